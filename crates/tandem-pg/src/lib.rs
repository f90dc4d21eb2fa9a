//! tandem on PostgreSQL.
