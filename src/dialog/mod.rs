//! The login dialog of DESIGN.md §9. For now: what an identifier looks like, and how one
//! (or a code) is found in what a person wrote.
pub mod format;
pub mod understand;
