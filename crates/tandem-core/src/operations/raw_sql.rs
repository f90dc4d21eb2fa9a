//! `sql`: raw SQL. `up` runs at start (or at complete with `onComplete: true`), `down` at
//! rollback. tandem cannot know what it changes, so the version schema is generated from the
//! catalog after it runs, and an `up` run at start must be its migration's only operation.

use super::lifecycle::{PlanContext, Plannable};
use crate::error::OpError;
use crate::plan::{OperationSteps, Step};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSql {
    pub up: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    #[serde(
        rename = "onComplete",
        default,
        skip_serializing_if = "super::column::is_false"
    )]
    pub on_complete: bool,
}

impl Plannable for RawSql {
    fn plan(&self, _ctx: &PlanContext, _schema: &mut Schema) -> Result<OperationSteps, OpError> {
        if self.up.trim().is_empty() {
            return Err(OpError::new(
                "the sql operation's `up` is empty",
                "write the SQL to run in `up`",
            ));
        }
        if self.on_complete && self.down.is_some() {
            return Err(OpError::new(
                "a sql operation with `onComplete: true` cannot have `down`",
                "SQL run at complete is never rolled back; remove `down`, or run `up` at start instead",
            ));
        }
        let up = Step::sql(
            "run the migration's raw SQL (up); it takes whatever locks its statements take",
            vec![self.up.clone()],
            vec![],
        );
        let mut steps = OperationSteps::default();
        if self.on_complete {
            steps.complete.push(up);
        } else {
            steps.start.push(up);
            if let Some(down) = &self.down {
                steps.rollback.push(Step::sql(
                    "run the migration's raw SQL (down)",
                    vec![down.clone()],
                    vec![],
                ));
            }
        }
        Ok(steps)
    }
}
