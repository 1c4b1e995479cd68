//! The `tongban` command line.
