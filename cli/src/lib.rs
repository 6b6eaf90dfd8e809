//! Library half of the `fraser` command line: dump reading and subcommands.
