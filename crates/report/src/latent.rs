//! The 2-D latent map of a run: the codes it wrote for test examples (`codes.csv`), projected on
//! their first two principal components when the code has more than two dimensions.

use std::path::Path;

/// Codes of labelled examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Codes {
    /// Each example's label.
    pub labels: Vec<String>,
    /// Each example's code.
    pub points: Vec<Vec<f64>>,
}

/// Reads a run's `codes.csv`; `None` when it is missing or malformed.
pub fn read_codes(path: &Path) -> Option<Codes> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let width = lines.next()?.split(',').count();
    let mut codes = Codes {
        labels: Vec::new(),
        points: Vec::new(),
    };
    for line in lines {
        let mut fields = line.split(',');
        codes.labels.push(fields.next()?.to_string());
        let point: Vec<f64> = fields.map(|v| v.parse().ok()).collect::<Option<_>>()?;
        if point.len() + 1 != width {
            return None;
        }
        codes.points.push(point);
    }
    (!codes.points.is_empty()).then_some(codes)
}

/// The points in 2-D: as they are for one or two dimensions (a single one on the x axis),
/// otherwise projected on the two leading principal components (centred data, eigenvectors of
/// the covariance by power iteration with deflation).
pub fn project_2d(points: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let dims = points.first().map_or(0, Vec::len);
    match dims {
        0 => Vec::new(),
        1 => points.iter().map(|p| (p[0], 0.0)).collect(),
        2 => points.iter().map(|p| (p[0], p[1])).collect(),
        _ => {
            let n = points.len() as f64;
            let mean: Vec<f64> = (0..dims)
                .map(|j| points.iter().map(|p| p[j]).sum::<f64>() / n)
                .collect();
            let centred: Vec<Vec<f64>> = points
                .iter()
                .map(|p| p.iter().zip(&mean).map(|(x, m)| x - m).collect())
                .collect();
            let mut covariance = vec![vec![0.0; dims]; dims];
            for p in &centred {
                for (i, row) in covariance.iter_mut().enumerate() {
                    for (j, c) in row.iter_mut().enumerate() {
                        *c += p[i] * p[j] / n;
                    }
                }
            }
            let first = leading_eigenvector(&covariance);
            let eigenvalue = rayleigh(&covariance, &first);
            for (i, row) in covariance.iter_mut().enumerate() {
                for (j, c) in row.iter_mut().enumerate() {
                    *c -= eigenvalue * first[i] * first[j];
                }
            }
            let second = leading_eigenvector(&covariance);
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
            centred
                .iter()
                .map(|p| (dot(p, &first), dot(p, &second)))
                .collect()
        }
    }
}

/// The unit eigenvector of the largest eigenvalue of the symmetric positive semi-definite
/// `matrix`, by power iteration.
fn leading_eigenvector(matrix: &[Vec<f64>]) -> Vec<f64> {
    let dims = matrix.len();
    // Not aligned with any axis, so it is not orthogonal to the answer in practice.
    let mut v: Vec<f64> = (0..dims).map(|i| 1.0 + 0.1 * i as f64).collect();
    for _ in 0..200 {
        let next: Vec<f64> = matrix
            .iter()
            .map(|row| row.iter().zip(&v).map(|(a, b)| a * b).sum())
            .collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v = next.into_iter().map(|x| x / norm).collect();
    }
    v
}

/// `vᵀ M v` for a unit `v`.
fn rayleigh(matrix: &[Vec<f64>], v: &[f64]) -> f64 {
    matrix
        .iter()
        .zip(v)
        .map(|(row, vi)| vi * row.iter().zip(v).map(|(a, b)| a * b).sum::<f64>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_components_recover_a_planted_plane() {
        // Points on the plane spanned by (1, 1, 0)/√2 (spread 10) and (0, 0, 1) (spread 1),
        // shifted by (5, -3, 2): the projection keeps both spreads and drops the offset.
        let points: Vec<Vec<f64>> = (0..50)
            .map(|k| {
                let a = 10.0 * ((k % 10) as f64 - 4.5);
                let b = (k / 10) as f64 - 2.0;
                let s = std::f64::consts::FRAC_1_SQRT_2;
                vec![5.0 + a * s, -3.0 + a * s, 2.0 + b]
            })
            .collect();
        let projected = project_2d(&points);
        let spread = |values: Vec<f64>| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
        };
        let first = spread(projected.iter().map(|p| p.0).collect());
        let second = spread(projected.iter().map(|p| p.1).collect());
        let expected_first = spread((0..10).map(|k| 10.0 * (k as f64 - 4.5)).collect());
        let expected_second = spread((0..5).map(|k| k as f64 - 2.0).collect());
        assert!(
            (first - expected_first).abs() < 1e-6,
            "{first} vs {expected_first}"
        );
        assert!(
            (second - expected_second).abs() < 1e-6,
            "{second} vs {expected_second}"
        );
        let mean_x = projected.iter().map(|p| p.0).sum::<f64>() / 50.0;
        assert!(mean_x.abs() < 1e-9);
    }

    #[test]
    fn codes_are_read_with_their_labels_and_a_malformed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(hourglass_spec::result::CODES_FILE);
        std::fs::write(&path, "label,z0,z1\n7,0.5,-1\n2,1.5,2\n").unwrap();
        assert_eq!(
            read_codes(&path),
            Some(Codes {
                labels: vec!["7".into(), "2".into()],
                points: vec![vec![0.5, -1.0], vec![1.5, 2.0]],
            })
        );
        std::fs::write(&path, "label,z0,z1\n7,0.5\n").unwrap();
        assert_eq!(read_codes(&path), None);
    }
}
