//! How a failure is classified, which decides the process exit code
//! (0 success, 1 "no", 2 bad input, 3 infrastructure).

/// The class of a failure, independent of which crate raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A gate or check said no (exit 1).
    Failed,
    /// The question was wrong: bad input, unknown name, usage (exit 2).
    Input,
    /// Store, database or network failed (exit 3).
    Infra,
}

impl ErrorClass {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::Failed => 1,
            ErrorClass::Input => 2,
            ErrorClass::Infra => 3,
        }
    }
}

/// Implemented by every library error so the binary can pick the exit code
/// and print a hint without knowing the crate's internals.
pub trait Exit {
    fn class(&self) -> ErrorClass;
    /// What the user can do about it, if there is something specific to say.
    fn hint(&self) -> Option<String> {
        None
    }
}
