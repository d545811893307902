"""`deploybot console` and `deploybot demo`: the whole product in a terminal."""
