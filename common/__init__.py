"""The ground floor: what every package shares (action codes, option ranges, devices and threads, output
paths). Imports no other package of the project."""
