"""Choosing the network a user gets: the race of candidates at equal wall clock (`race`)."""
