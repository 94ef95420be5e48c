"""Phase playlists and the music player port."""
