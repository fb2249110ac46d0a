//! What the lint knows besides the card: where it runs ([`Mode`]), the repository's files, the
//! hub, and the resolved parents ([`Options`]).

use crate::files::Files;

/// Where the lint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A publisher's check (`wh card lint`): every rule.
    Full,
    /// The hub's metadata validation: front-matter rules only, and what the Hub itself accepts
    /// (no licence, or no front matter) is a warning rather than an error.
    Metadata,
}

/// Whether a model id exists on a hub (`None` when it cannot tell).
pub type ModelExists<'a> = dyn Fn(&str) -> Option<bool> + 'a;

/// What the lint knows besides the card.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// Every rule, or the hub's metadata validation.
    pub mode: Mode,
    /// `model`, `dataset` or `space`.
    pub repo_type: &'a str,
    /// The repository's files, when the card is linted in its folder or repository.
    pub files: Option<&'a dyn Files>,
    /// The hub URL used in messages (`https://hub.example/datasets`).
    pub hub_url: &'a str,
    /// Whether a model id exists (on the hub the card is checked against); `None` = unknown.
    pub model_exists: Option<&'a ModelExists<'a>>,
    /// The `base_model` parents with their licences, when they could be resolved: the licence
    /// rules (LIC-001..007) run on them.
    pub parents: Option<&'a [crate::derive::Parent]>,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("mode", &self.mode)
            .field("repo_type", &self.repo_type)
            .field("files", &self.files.is_some())
            .field("hub_url", &self.hub_url)
            .finish()
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            mode: Mode::Full,
            repo_type: "model",
            files: None,
            hub_url: "https://huggingface.co",
            model_exists: None,
            parents: None,
        }
    }
}
