"""The nurse console (Textual): sees events and sends commands, nothing else."""
