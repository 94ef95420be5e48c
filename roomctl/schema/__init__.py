"""SQL schema files of the session record (``vN.sql``)."""
