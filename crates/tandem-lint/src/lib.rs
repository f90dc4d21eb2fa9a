//! tandem lint.
