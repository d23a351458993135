//! Search spaces: how the values of swept keys are given (lists, or uniform, log-uniform and
//! integer draws), and how they combine into runs: the grid product with `zip` groups that
//! vary together, or `samples` random draws. Draws come from a ChaCha8 stream of the
//! experiment's seed, so a spec always expands to the same runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;
use crate::ranges;
use crate::sweep::Axis;

/// The values a swept key can take.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Domain {
    /// Written out (`[1, 2]` or `{ choice = [1, 2] }`).
    List(Vec<toml::Value>),
    /// Floats uniform in `[low, high)`.
    Uniform(f64, f64),
    /// Floats whose logarithm is uniform in `[ln low, ln high)`.
    LogUniform(f64, f64),
    /// Integers uniform in `[low, high]`.
    IntUniform(i64, i64),
}

/// A swept key: its domain, and for a grid how many values to draw from a distribution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parameter {
    pub key: String,
    pub domain: Domain,
    pub samples: Option<usize>,
}

/// The most runs one spec may expand to: more is a typo (a stray `samples = 1000000`), and
/// expanding it would exhaust memory before any check could say so.
pub const MAX_RUNS: usize = 10_000;

/// The problem with a sweep of `count` configurations or more, reported on `key`.
pub(crate) fn too_many_runs(key: &str, count: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(
        key,
        format!("the sweep expands to {count} runs, more than the {MAX_RUNS} one spec may have"),
    )
    .with_hint("split the sweep into several specs, or draw fewer values")
}

const DISTRIBUTIONS: [&str; 4] = ["choice", "uniform", "log_uniform", "int_uniform"];

impl Parameter {
    /// Reads `"key" = [..]` or `"key" = { log_uniform = [a, b], samples = n }`.
    pub fn parse(key: &str, value: &toml::Value) -> Result<Self, Diagnostic> {
        let expected = || {
            Diagnostic::new(
                key,
                format!(
                    "expected a non-empty list of values or a distribution, found {}",
                    describe(value)
                ),
            )
            .with_hint(format!(
                "write e.g. \"{key}\" = [1, 2, 3] or \"{key}\" = {{ log_uniform = [1e-4, 1e-2] }} \
                 (one of {})",
                DISTRIBUTIONS.join(", ")
            ))
        };
        let table = match value {
            toml::Value::Array(values) if !values.is_empty() => {
                return Ok(Self {
                    key: key.to_string(),
                    domain: Domain::List(values.clone()),
                    samples: None,
                });
            }
            toml::Value::Table(table) => table,
            _ => return Err(expected()),
        };
        let mut kinds = table.keys().filter(|k| k.as_str() != "samples");
        let (Some(kind), None) = (kinds.next(), kinds.next()) else {
            return Err(expected());
        };
        let samples = match table.get("samples") {
            None => None,
            Some(toml::Value::Integer(n)) if *n > 0 => Some(*n as usize),
            Some(other) => {
                return Err(Diagnostic::new(
                    format!("{key}.samples"),
                    format!("expected a positive integer, found {}", ranges::show(other)),
                ));
            }
        };
        let pair = |kind: &str| match table[kind].as_array().map(Vec::as_slice) {
            Some([low, high]) => Ok((low, high)),
            _ => Err(Diagnostic::new(
                format!("{key}.{kind}"),
                format!("expected [low, high], found {}", ranges::show(&table[kind])),
            )),
        };
        let ordered = |kind: &str, in_order: bool| {
            if in_order {
                Ok(())
            } else {
                Err(Diagnostic::new(
                    format!("{key}.{kind}"),
                    format!(
                        "expected [low, high] with low < high, found {}",
                        ranges::show(&table[kind])
                    ),
                ))
            }
        };
        // Float bounds: finite, ordered, and `high - low` a finite float too.
        let bounds = |kind: &str| -> Result<(f64, f64), Diagnostic> {
            let (low, high) = pair(kind)?;
            let problem = |message: String| {
                Diagnostic::new(format!("{key}.{kind}"), message).with_hint(format!(
                    "bounds are finite numbers from -{max} to {max}, at most {max} apart",
                    max = crate::diagnostic::number(f64::MAX)
                ))
            };
            match (number(low), number(high)) {
                (Some(low), Some(high)) if low.is_finite() && high.is_finite() => {
                    ordered(kind, low < high)?;
                    if (high - low).is_finite() {
                        Ok((low, high))
                    } else {
                        Err(problem(format!(
                            "the span high - low of {} is out of range",
                            ranges::show(&table[kind])
                        )))
                    }
                }
                (Some(_), Some(_)) => Err(problem(format!(
                    "expected finite bounds, found {}",
                    ranges::show(&table[kind])
                ))),
                _ => Err(Diagnostic::new(
                    format!("{key}.{kind}"),
                    format!("expected two numbers, found {}", ranges::show(&table[kind])),
                )),
            }
        };
        let domain = match kind.as_str() {
            "choice" => match &table["choice"] {
                toml::Value::Array(values) if !values.is_empty() => Domain::List(values.clone()),
                _ => return Err(expected()),
            },
            "uniform" => {
                let (low, high) = bounds("uniform")?;
                Domain::Uniform(low, high)
            }
            "log_uniform" => {
                let (low, high) = bounds("log_uniform")?;
                if low <= 0.0 {
                    return Err(Diagnostic::new(
                        format!("{key}.log_uniform"),
                        format!(
                            "a log-uniform range must be positive, found low = {}",
                            crate::diagnostic::number(low)
                        ),
                    ));
                }
                if low.ln() >= high.ln() {
                    return Err(Diagnostic::new(
                        format!("{key}.log_uniform"),
                        format!(
                            "bounds {} are too close for a log-uniform draw: their logarithms \
                             are the same float",
                            ranges::show(&table[kind])
                        ),
                    )
                    .with_hint("use `uniform`, or bounds further apart"));
                }
                Domain::LogUniform(low, high)
            }
            "int_uniform" => {
                let (low, high) = pair("int_uniform")?;
                let (Some(low), Some(high)) = (integer(low), integer(high)) else {
                    return Err(Diagnostic::new(
                        format!("{key}.int_uniform"),
                        format!(
                            "expected integer bounds, found {}",
                            ranges::show(&table[kind])
                        ),
                    ));
                };
                ordered("int_uniform", low < high)?;
                Domain::IntUniform(low, high)
            }
            _ => return Err(expected()),
        };
        Ok(Self {
            key: key.to_string(),
            domain,
            samples,
        })
    }

    /// Values of the domain that stand for all: every listed value, or a distribution's
    /// lowest and highest draw, to check the key before any draw.
    pub fn representatives(&self) -> Vec<toml::Value> {
        match &self.domain {
            Domain::List(values) => values.clone(),
            Domain::Uniform(low, high) | Domain::LogUniform(low, high) => {
                vec![
                    toml::Value::Float(*low),
                    toml::Value::Float(high.next_down()),
                ]
            }
            Domain::IntUniform(low, high) => {
                vec![toml::Value::Integer(*low), toml::Value::Integer(*high)]
            }
        }
    }

    /// The problem with a distribution whose draws can leave the documented range of its key.
    pub fn check_range(&self) -> Option<Diagnostic> {
        let (kind, draws) = match self.domain {
            Domain::List(_) => return None,
            Domain::Uniform(low, high) => ("uniform", half_open(low, high)),
            Domain::LogUniform(low, high) => ("log_uniform", half_open(low, high)),
            Domain::IntUniform(low, high) => ("int_uniform", format!("[{low}, {high}]")),
        };
        let range = ranges::range_of(&self.key)?;
        let inside = |value: &toml::Value| match value {
            toml::Value::Integer(i) => range.contains_integer(i128::from(*i)),
            other => other.as_float().is_some_and(|x| range.contains(x)),
        };
        (!self.representatives().iter().all(inside)).then(|| {
            Diagnostic::new(
                format!("{}.{kind}", self.key),
                format!(
                    "draws in {draws} can leave the range of `{}`: expected {range}",
                    self.key
                ),
            )
        })
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> toml::Value {
        match &self.domain {
            Domain::List(values) => values[rng.random_range(0..values.len())].clone(),
            Domain::Uniform(low, high) => toml::Value::Float(rng.random_range(*low..*high)),
            Domain::LogUniform(low, high) => {
                toml::Value::Float(rng.random_range(low.ln()..high.ln()).exp())
            }
            Domain::IntUniform(low, high) => toml::Value::Integer(rng.random_range(*low..=*high)),
        }
    }
}

fn number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
}

/// `[low, high)` as messages write it.
fn half_open(low: f64, high: f64) -> String {
    let (low, high) = (
        crate::diagnostic::number(low),
        crate::diagnostic::number(high),
    );
    format!("[{low}, {high})")
}

/// An integer bound: an integer, or a float without a fraction that is exact as a float.
fn integer(value: &toml::Value) -> Option<i64> {
    /// 2^53: floats are exact integers up to here.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        toml::Value::Integer(i) => Some(*i),
        toml::Value::Float(x) if x.fract() == 0.0 && x.abs() <= EXACT => Some(*x as i64),
        _ => None,
    }
}

fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::Array(_) => "an empty list".into(),
        toml::Value::Table(table) => {
            let keys: Vec<&str> = table
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "samples")
                .collect();
            match keys.as_slice() {
                ["choice"] => "an empty `choice` list".into(),
                [] => "no distribution".into(),
                [_] => format!("a table with key {}", keys[0]),
                _ => format!("{} distributions where one is allowed", keys.join(" and ")),
            }
        }
        other => format!(
            "a single {} (a list of one is `[{other}]`)",
            other.type_str()
        ),
    }
}

/// How the swept keys combine.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Combine {
    /// The product of the groups.
    Grid,
    /// This many independent draws of every group.
    Random { samples: usize },
}

/// The axes a sweep expands over and the runs' value indices into them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expansion {
    pub axes: Vec<Axis>,
    /// One entry per configuration: an index into each axis's values.
    pub combinations: Vec<Vec<usize>>,
}

/// Expands `parameters` (in key order) whose indices in `zip` groups vary together.
/// Checks that zipped keys have equal lengths and that grid distributions say how many
/// values to draw; problems name the key, and the index in `zip` of a group they are about.
pub(crate) fn expand(
    parameters: &[Parameter],
    zip: &[Vec<usize>],
    combine: &Combine,
    seed: u64,
) -> Result<Expansion, (Diagnostic, Option<usize>)> {
    let in_group = |group: &Vec<usize>| zip.iter().position(|g| g == group);
    // Groups: each zip group, then every parameter in none, in key order.
    let mut groups: Vec<Vec<usize>> = zip.to_vec();
    for i in 0..parameters.len() {
        if !zip.iter().any(|group| group.contains(&i)) {
            groups.push(vec![i]);
        }
    }
    groups.sort_by_key(|group| group[0]);
    match combine {
        Combine::Grid => {
            let axes: Vec<Axis> = parameters
                .iter()
                .map(|p| {
                    let values = match (&p.domain, p.samples) {
                        (Domain::List(values), _) => values.clone(),
                        (_, Some(samples)) if samples > MAX_RUNS => {
                            return Err((
                                too_many_runs(&format!("{}.samples", p.key), samples),
                                None,
                            ));
                        }
                        (_, Some(samples)) => {
                            let mut rng = stream(seed, &p.key);
                            (0..samples).map(|_| p.draw(&mut rng)).collect()
                        }
                        (_, None) => {
                            return Err((Diagnostic::new(
                                &p.key,
                                "a grid needs to know how many values to draw from a distribution",
                            )
                            .with_hint("add `samples = N` to it, or use `strategy = \"random\"`"), None));
                        }
                    };
                    Ok(Axis {
                        key: p.key.clone(),
                        values,
                    })
                })
                .collect::<Result<_, _>>()?;
            let mut lengths = Vec::new();
            for group in &groups {
                let length = axes[group[0]].values.len();
                if let Some(&other) = group.iter().find(|&&i| axes[i].values.len() != length) {
                    let problem = Diagnostic::new(
                        "sweep.zip",
                        format!(
                            "zipped keys vary together and need lists of one length: `{}` has {length} values, `{}` has {}",
                            axes[group[0]].key,
                            axes[other].key,
                            axes[other].values.len()
                        ),
                    );
                    return Err((problem, in_group(group)));
                }
                lengths.push(length);
            }
            let configurations = lengths
                .iter()
                .try_fold(1usize, |product, &length| product.checked_mul(length))
                .filter(|&product| product <= MAX_RUNS);
            if configurations.is_none() {
                let product = lengths.iter().map(|&l| l as f64).product::<f64>();
                return Err((
                    too_many_runs("sweep.parameters", crate::diagnostic::number(product)),
                    None,
                ));
            }
            let mut combinations = vec![vec![0; axes.len()]];
            for (group, length) in groups.iter().zip(lengths) {
                combinations = combinations
                    .into_iter()
                    .flat_map(|prefix| {
                        (0..length).map(move |index| {
                            let mut next = prefix.clone();
                            for &axis in group {
                                next[axis] = index;
                            }
                            next
                        })
                    })
                    .collect();
            }
            Ok(Expansion { axes, combinations })
        }
        Combine::Random { samples } => {
            if *samples > MAX_RUNS {
                return Err((too_many_runs("sweep.samples", samples), None));
            }
            if let Some(p) = parameters.iter().find(|p| p.samples.is_some()) {
                return Err((
                    Diagnostic::new(
                        format!("{}.samples", p.key),
                        "per-key `samples` belongs to grids; a random sweep draws `sweep.samples` configurations",
                    ),
                    None,
                ));
            }
            let mut axes: Vec<Axis> = parameters
                .iter()
                .map(|p| Axis {
                    key: p.key.clone(),
                    values: match &p.domain {
                        Domain::List(values) => values.clone(),
                        _ => Vec::new(),
                    },
                })
                .collect();
            for group in groups.iter().filter(|group| group.len() > 1) {
                let length = axes[group[0]].values.len();
                if let Some(&bad) = group.iter().find(|&&i| {
                    !matches!(parameters[i].domain, Domain::List(_))
                        || axes[i].values.len() != length
                }) {
                    let problem = Diagnostic::new(
                        "sweep.zip",
                        format!(
                            "zipped keys vary together and need lists of one length, but `{}` is \
                             not a list as long as `{}`",
                            parameters[bad].key, parameters[group[0]].key
                        ),
                    );
                    return Err((problem, in_group(group)));
                }
            }
            let mut rng = stream(seed, "sweep.samples");
            let mut combinations = Vec::with_capacity(*samples);
            for _ in 0..*samples {
                let mut combination = vec![0; axes.len()];
                for group in &groups {
                    let first = group[0];
                    match &parameters[first].domain {
                        Domain::List(values) => {
                            let index = rng.random_range(0..values.len());
                            for &axis in group {
                                combination[axis] = index;
                            }
                        }
                        _ => {
                            let value = parameters[first].draw(&mut rng);
                            combination[first] = axes[first].values.len();
                            axes[first].values.push(value);
                        }
                    }
                }
                combinations.push(combination);
            }
            Ok(Expansion { axes, combinations })
        }
    }
}

/// A random stream for one purpose of one experiment.
fn stream(seed: u64, purpose: &str) -> ChaCha8Rng {
    let digest = Sha256::digest(format!("{seed}/{purpose}").as_bytes());
    ChaCha8Rng::from_seed(digest.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(key: &str, value: &str) -> Parameter {
        let value: toml::Value =
            toml::from_str::<toml::Table>(&format!("v = {value}")).unwrap()["v"].clone();
        Parameter::parse(key, &value).unwrap()
    }

    #[test]
    fn zip_groups_vary_together_and_other_keys_multiply() {
        let parameters = [
            parameter("a", "[1, 2, 3]"),
            parameter("b", "[10, 20]"),
            parameter("c", "[\"x\", \"y\", \"z\"]"),
        ];
        let expansion = expand(&parameters, &[vec![0, 2]], &Combine::Grid, 0).unwrap();
        assert_eq!(expansion.combinations.len(), 6);
        assert!(expansion.combinations.iter().all(|c| c[0] == c[2]));
        let (err, group) = expand(&parameters, &[vec![0, 1]], &Combine::Grid, 0).unwrap_err();
        assert!(err.message.contains("one length"), "{}", err.message);
        assert_eq!((err.key.as_str(), group), ("sweep.zip", Some(0)));
    }

    #[test]
    fn random_draws_stay_in_their_domains_and_repeat_with_the_seed() {
        let parameters = [
            parameter("lr", "{ log_uniform = [1e-4, 1e-1] }"),
            parameter("width", "{ int_uniform = [2, 5] }"),
            parameter("dropout", "{ uniform = [0.0, 0.5] }"),
            parameter("kind", "{ choice = [\"a\", \"b\"] }"),
        ];
        let random = Combine::Random { samples: 400 };
        let expansion = expand(&parameters, &[], &random, 7).unwrap();
        let values = |axis: usize| -> Vec<toml::Value> {
            expansion
                .combinations
                .iter()
                .map(|c| expansion.axes[axis].values[c[axis]].clone())
                .collect()
        };
        let lrs: Vec<f64> = values(0).iter().map(|v| v.as_float().unwrap()).collect();
        assert!(lrs.iter().all(|lr| (1e-4..1e-1).contains(lr)));
        // Log-uniform: each decade gets about a third of the draws.
        let low_decade = lrs.iter().filter(|&&lr| lr < 1e-3).count();
        assert!(
            (100..170).contains(&low_decade),
            "{low_decade} of 400 below 1e-3"
        );
        let widths: Vec<i64> = values(1).iter().map(|v| v.as_integer().unwrap()).collect();
        assert!(
            widths.iter().all(|w| (2..=5).contains(w))
                && widths.contains(&2)
                && widths.contains(&5)
        );
        assert!(
            values(2)
                .iter()
                .all(|v| (0.0..0.5).contains(&v.as_float().unwrap()))
        );
        assert_eq!(expansion, expand(&parameters, &[], &random, 7).unwrap());
        assert_ne!(expansion, expand(&parameters, &[], &random, 8).unwrap());
    }

    #[test]
    fn a_grid_draws_the_samples_a_distribution_asks_for() {
        let parameters = [parameter(
            "lr",
            "{ log_uniform = [1e-4, 1e-2], samples = 3 }",
        )];
        let expansion = expand(&parameters, &[], &Combine::Grid, 1).unwrap();
        assert_eq!(expansion.combinations.len(), 3);
        let without = [parameter("lr", "{ log_uniform = [1e-4, 1e-2] }")];
        assert!(
            expand(&without, &[], &Combine::Grid, 1)
                .unwrap_err()
                .0
                .hint
                .unwrap()
                .contains("samples = N")
        );
    }
}
