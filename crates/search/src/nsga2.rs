//! Multi-objective search: NSGA-II (Deb, Pratap, Agarwal and Meyarivan 2002) as Optuna 5's
//! `NSGAIISampler()` runs it with its defaults, and the hypervolume of a Pareto front.
//!
//! Trials form generations of [`POPULATION`] in the order they started. The first generation
//! is drawn at random. The parents of generation `g` are the elite of generation `g − 1` and of
//! its own parents: the [`POPULATION`] best by non-dominated rank, the last rank admitted cut
//! by crowding distance (the boundary of a front first). A child takes, with probability 0.9,
//! each parameter from one of two parents chosen by binary tournament (the one that dominates,
//! else the second) with even odds (uniform crossover), else copies one parent; then each
//! parameter is drawn again at random with probability `1 / parameters` (mutation). Every
//! objective is minimised: negate one to maximise it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Parameter, Value, random_value};

/// Trials per generation (Optuna's `population_size`).
pub const POPULATION: usize = 50;
/// Probability of a crossover rather than a copy of one parent.
const CROSSOVER: f64 = 0.9;
/// Probability that a parameter comes from the second parent.
const SWAPPING: f64 = 0.5;

/// A configuration tried with several objectives, all minimised.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiTrial {
    /// One value per parameter of the space.
    pub values: Vec<Value>,
    /// The objectives, once the trial has finished.
    pub objectives: Option<Vec<f64>>,
}

/// The next configuration to try in `space`, given the `trials` so far in the order they
/// started, drawn from a generator seeded with `seed`.
pub fn propose(space: &[Parameter], trials: &[MultiTrial], seed: u64) -> Vec<Value> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let generation = trials.len() / POPULATION;
    let parents = parents(trials, generation);
    if parents.is_empty() {
        return space.iter().map(|p| random_value(p, &mut rng)).collect();
    }
    let objectives = |at: usize| trials[at].objectives.as_deref().expect("a finished parent");
    let child: Vec<Value> = if rng.random::<f64>() < CROSSOVER {
        let first = tournament(&parents, &objectives, &mut rng);
        let others: Vec<usize> = parents.iter().copied().filter(|&p| p != first).collect();
        let second = if others.is_empty() {
            first
        } else {
            tournament(&others, &objectives, &mut rng)
        };
        (trials[first].values.iter().zip(&trials[second].values))
            .map(|(&a, &b)| {
                if rng.random::<f64>() >= SWAPPING {
                    b
                } else {
                    a
                }
            })
            .collect()
    } else {
        trials[parents[rng.random_range(0..parents.len())]]
            .values
            .clone()
    };
    let mutation = 1.0 / space.len().max(1) as f64;
    (child.into_iter().zip(space))
        .map(|(value, parameter)| {
            if rng.random::<f64>() < mutation {
                random_value(parameter, &mut rng)
            } else {
                value
            }
        })
        .collect()
}

/// The trials (by index) that parent `generation`: none for the first.
fn parents(trials: &[MultiTrial], generation: usize) -> Vec<usize> {
    let mut parents = Vec::new();
    for g in 1..=generation {
        let mut pool: Vec<usize> = ((g - 1) * POPULATION..(g * POPULATION).min(trials.len()))
            .filter(|&at| trials[at].objectives.is_some())
            .collect();
        // The earlier parents come from earlier generations: no trial is in both.
        pool.extend(parents.iter().copied());
        let points: Vec<&[f64]> = (pool.iter())
            .map(|&at| trials[at].objectives.as_deref().expect("finished"))
            .collect();
        parents = elite(&points, POPULATION)
            .into_iter()
            .map(|k| pool[k])
            .collect();
    }
    parents
}

/// One of two parents drawn at random: the first if it dominates the second, else the second.
fn tournament<'a>(
    parents: &[usize],
    objectives: &impl Fn(usize) -> &'a [f64],
    rng: &mut ChaCha8Rng,
) -> usize {
    let first = parents[rng.random_range(0..parents.len())];
    let second = parents[rng.random_range(0..parents.len())];
    if dominates(objectives(first), objectives(second)) {
        first
    } else {
        second
    }
}

/// Whether `a` is no worse than `b` in every objective and better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// The points (by index) in fronts of non-dominated rank, the Pareto front first.
pub fn fronts(points: &[&[f64]]) -> Vec<Vec<usize>> {
    let count = points.len();
    let mut dominated_by = vec![0usize; count];
    let mut dominating: Vec<Vec<usize>> = vec![Vec::new(); count];
    for a in 0..count {
        for b in 0..count {
            if dominates(points[a], points[b]) {
                dominating[a].push(b);
                dominated_by[b] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..count).filter(|&a| dominated_by[a] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &a in &current {
            for &b in &dominating[a] {
                dominated_by[b] -= 1;
                if dominated_by[b] == 0 {
                    next.push(b);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    fronts
}

/// The `size` best points (by index): whole fronts in rank order, the last one admitted cut
/// to the points of greatest crowding distance.
fn elite(points: &[&[f64]], size: usize) -> Vec<usize> {
    let mut elite = Vec::with_capacity(size);
    for mut front in fronts(points) {
        if elite.len() + front.len() < size {
            elite.extend(front);
        } else {
            let distance = crowding_distances(points, &front);
            let mut order: Vec<usize> = (0..front.len()).collect();
            order.sort_by(|&a, &b| distance[b].total_cmp(&distance[a]));
            front = order.into_iter().map(|k| front[k]).collect();
            elite.extend(front.into_iter().take(size - elite.len()));
            break;
        }
    }
    elite
}

/// Each point of `front`'s crowding distance: over the objectives, the gap between its two
/// neighbours in that objective over the objective's span (infinite at the ends).
fn crowding_distances(points: &[&[f64]], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    let objectives = points.first().map_or(0, |p| p.len());
    for objective in 0..objectives {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| points[front[a]][objective].total_cmp(&points[front[b]][objective]));
        let value = |k: usize| points[front[order[k]]][objective];
        let span = value(front.len() - 1) - value(0);
        if span <= 0.0 {
            continue;
        }
        distance[order[0]] = f64::INFINITY;
        distance[order[front.len() - 1]] = f64::INFINITY;
        for k in 1..front.len() - 1 {
            distance[order[k]] += (value(k + 1) - value(k - 1)) / span;
        }
    }
    distance
}

/// The area that the points of two objectives dominate below `reference`, both minimised.
pub fn hypervolume_2d(points: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    let mut inside: Vec<[f64; 2]> = (points.iter())
        .filter(|p| p[0] < reference[0] && p[1] < reference[1])
        .copied()
        .collect();
    inside.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let mut area = 0.0;
    let mut ceiling = reference[1];
    for point in inside {
        if point[1] < ceiling {
            area += (reference[0] - point[0]) * (ceiling - point[1]);
            ceiling = point[1];
        }
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fronts_rank_points_by_domination() {
        let points: Vec<[f64; 2]> =
            vec![[1.0, 4.0], [2.0, 2.0], [4.0, 1.0], [3.0, 3.0], [5.0, 5.0]];
        let views: Vec<&[f64]> = points.iter().map(|p| p.as_slice()).collect();
        assert_eq!(fronts(&views), vec![vec![0, 1, 2], vec![3], vec![4]]);
        // The second front's lone point and, of the first, its two ends (infinite crowding).
        let kept = elite(&views, 2);
        assert_eq!(kept.len(), 2);
        assert!(kept.contains(&0) && kept.contains(&2), "{kept:?}");
    }

    #[test]
    fn the_hypervolume_of_a_staircase_is_its_area() {
        let front = [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.5, 3.5]];
        // Below (4, 4): 3·1 + 2·1 + 1·1 from the three steps; the dominated point adds none.
        assert_eq!(hypervolume_2d(&front, [4.0, 4.0]), 6.0);
        assert_eq!(hypervolume_2d(&[[5.0, 0.0]], [4.0, 4.0]), 0.0);
    }

    #[test]
    fn the_first_generation_is_random_and_later_ones_breed_from_the_elite() {
        let space = vec![
            Parameter::Float {
                low: 0.0,
                high: 1.0,
                log: false,
            };
            3
        ];
        let mut trials = Vec::new();
        for k in 0..POPULATION {
            let values = propose(&space, &trials, k as u64);
            assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
            let objectives = Some(vec![values[0], 1.0 - values[0] + values[1]]);
            trials.push(MultiTrial { values, objectives });
        }
        // A child's parameters come from its parents, but for about one in three mutated.
        let elite_values: Vec<f64> = parents(&trials, 1)
            .iter()
            .flat_map(|&at| trials[at].values.clone())
            .collect();
        let inherited = (0..200)
            .flat_map(|seed| propose(&space, &trials, 1000 + seed))
            .filter(|v| elite_values.contains(v))
            .count();
        assert!(
            (0.55..0.85).contains(&(inherited as f64 / 600.0)),
            "{inherited}"
        );
    }
}
