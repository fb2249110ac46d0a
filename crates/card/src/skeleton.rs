//! Model card skeletons: the recommended sections, filled in from what the weights and
//! `config.json` say.
