//! A user as the Hub's listings show one (likers, organisation members, overviews).

use serde_json::{Value, json};

/// A user as the Hub lists them (likers, members): `User` in `huggingface_hub`.
pub(crate) fn user_json(name: String, fullname: String) -> Value {
    json!({
        "type": "user",
        "fullname": display_name(&name, fullname),
        "user": name,
        "avatarUrl": "",
        "isPro": false,
    })
}

/// The full name, or the account name when none was given.
pub(crate) fn display_name(name: &str, fullname: String) -> String {
    if fullname.is_empty() {
        name.to_string()
    } else {
        fullname
    }
}
