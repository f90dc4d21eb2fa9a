//! tandem's pure core: the migration model, the logical schema, the operations and the planner.
//!
//! Nothing here performs I/O; the `tandem-pg` crate executes what this crate plans.

mod ddl;
mod expressions;
mod keywords;
pub mod locks;
pub mod migration;
pub mod names;
pub mod operations;
pub mod plan;
pub mod planner;
pub mod quote;
pub mod schema;
mod sync;
pub mod versions;

pub use migration::{Migration, ParseError};
pub use operations::{Operation, PlanContext};
pub use plan::{Action, Phase, Plan, Step};
pub use planner::{plan_migration, PlanError, Planned, Probe, ProbeKind};
pub use schema::Schema;
