"""Entry points of the deploybot modes, called by bot.__main__."""
