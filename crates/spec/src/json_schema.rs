//! The JSON Schema of a spec file, generated from the serde types of `schema.rs` with schemars,
//! for editors: taplo and the Even Better TOML extension complete and check keys of a file
//! whose first line is `#:schema ./hourglass.schema.json`. The committed copy is
//! `experiments/hourglass.schema.json`; a test fails when it is stale.
//!
//! The schema knows the shape of a spec, not its semantics: ranges, kind-specific settings and
//! sweep values are checked by [`crate::parse`], which stays the authority.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};

use crate::RUN_SECTIONS;
use crate::schema::SpecFile;

/// The schema of spec files as pretty JSON with keys sorted at every depth.
pub fn json_schema() -> String {
    schema_text::<SpecFile>(
        "hourglass experiment spec",
        "An autoencoder experiment and its sweep; every key with its default is in \
         experiments/reference.toml. Written by `hourglass schema`.",
    )
}

/// The JSON Schema of `T` as pretty JSON with keys sorted at every depth, whatever
/// serde_json's features, so the committed file does not depend on the build.
pub fn schema_text<T: schemars::JsonSchema>(title: &str, description: &str) -> String {
    // Draft 7: the newest draft taplo's validator reads fully.
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema.insert("description".into(), description.into());
    let sorted = sorted_keys(schema.to_value());
    let mut text = serde_json::to_string_pretty(&sorted).expect("a schema serializes");
    text.push('\n');
    text
}

/// `[sweep.parameters]`: dotted run keys to a list of values or a distribution.
pub(crate) fn sweep_parameters(_: &mut SchemaGenerator) -> Schema {
    let key_pattern = format!("^({})(\\.[A-Za-z0-9_]+)*$", RUN_SECTIONS.join("|"));
    let bounds = |item: serde_json::Value| {
        json_schema!({
            "type": "array",
            "items": item,
            "minItems": 2,
            "maxItems": 2,
            "description": "[low, high]"
        })
    };
    let distribution = |name: &str, description: &str, values: Schema| {
        json_schema!({
            "type": "object",
            "description": description,
            "properties": {
                name: values,
                "samples": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Values drawn for a grid sweep (a random sweep draws one per sample)"
                }
            },
            "required": [name],
            "additionalProperties": false
        })
    };
    json_schema!({
        "type": "object",
        "description": "Dotted key path to the values it takes: a list, e.g. \"model.latent\" = [2, 8, 32], or a distribution, e.g. { log_uniform = [1e-4, 1e-2] }",
        "default": {},
        "propertyNames": { "pattern": key_pattern },
        "additionalProperties": {
            "anyOf": [
                { "type": "array", "minItems": 1, "description": "The values, in order" },
                distribution(
                    "choice",
                    "Values drawn from a list",
                    json_schema!({ "type": "array", "minItems": 1 }),
                ),
                distribution(
                    "uniform",
                    "Floats uniform in [low, high)",
                    bounds(serde_json::json!({ "type": "number" })),
                ),
                distribution(
                    "log_uniform",
                    "Floats whose logarithm is uniform in [ln low, ln high); low > 0",
                    bounds(serde_json::json!({ "type": "number", "exclusiveMinimum": 0 })),
                ),
                distribution(
                    "int_uniform",
                    "Integers uniform in [low, high]",
                    bounds(serde_json::json!({ "type": "integer" })),
                ),
            ]
        }
    })
}

/// `value` with every object's keys inserted in sorted order.
fn sorted_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted_keys(value)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted_keys).collect())
        }
        other => other,
    }
}
