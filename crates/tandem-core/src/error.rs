//! The error an operation (or a part of the planner acting for one) gives when it cannot be
//! planned. The planner adds the file, line and operation.

/// Why an operation cannot be planned, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpError {
    pub message: String,
    pub help: String,
}

impl OpError {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> OpError {
        OpError {
            message: message.into(),
            help: help.into(),
        }
    }
}
