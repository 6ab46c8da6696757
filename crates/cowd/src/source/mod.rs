//! Sources of truth that publish into [`Versions`](crate::versions::Versions) on their own,
//! rather than through API writes. Today: the watched configuration file (file mode).

pub mod file_watch;
