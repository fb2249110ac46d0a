//! Governance for open weights: model cards (front matter, sections, lint rules), the licence
//! table and the licensing of derived models, openness checks (OWD, OSAID, MOF), and the
//! agreements behind gated repositories.
//!
//! Everything here works on a [`files::Files`] view of a repository, so the same checks run on a
//! local model folder (`wh card lint`, `wh license check`, `wh openness`) and on a commit of a hub
//! repository.

pub mod derive;
pub mod files;
pub mod frontmatter;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod gate;
pub mod licenses;
pub mod lint;
pub mod openness;
pub mod skeleton;
pub mod vocab;

pub use files::{Dir, Files, MemFiles};
pub use frontmatter::Card;
pub use licenses::License;
