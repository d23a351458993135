//! The 2-D latent map of a run: the codes it wrote for test examples (`codes.csv`), projected on
//! their first two principal components when the code has more than two dimensions; and the
//! variance of each code dimension (`latent.csv`).

use std::path::Path;

use hourglass_metrics::Pca;

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

/// The variances of a run's `latent.csv` (`dimension,mean,variance` and, for a VAE,
/// `kl_nats`), largest first; `None` when it is missing or malformed.
pub fn read_variances(path: &Path) -> Option<Vec<f64>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let column = lines
        .next()?
        .split(',')
        .position(|name| name == "variance")?;
    let mut variances: Vec<f64> = lines
        .map(|line| line.split(',').nth(column)?.parse().ok())
        .collect::<Option<_>>()?;
    variances.sort_by(|a, b| b.total_cmp(a));
    (!variances.is_empty()).then_some(variances)
}

/// The points in 2-D: as they are for one or two dimensions (a single one on the x axis),
/// otherwise projected on their two leading principal components (centred).
pub fn project_2d(points: &[Vec<f64>]) -> Vec<(f64, f64)> {
    let dims = points.first().map_or(0, Vec::len);
    match dims {
        0 => Vec::new(),
        1 => points.iter().map(|p| (p[0], 0.0)).collect(),
        2 => points.iter().map(|p| (p[0], p[1])).collect(),
        _ => {
            let rows: Vec<f32> = points.iter().flatten().map(|&v| v as f32).collect();
            let pca = Pca::fit(&rows, dims, 2);
            rows.chunks_exact(dims)
                .map(|row| {
                    let coefficients = pca.project(row);
                    (coefficients[0], coefficients[1])
                })
                .collect()
        }
    }
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
            (first - expected_first).abs() < 1e-4,
            "{first} vs {expected_first}"
        );
        assert!(
            (second - expected_second).abs() < 1e-4,
            "{second} vs {expected_second}"
        );
        let mean_x = projected.iter().map(|p| p.0).sum::<f64>() / 50.0;
        assert!(mean_x.abs() < 1e-4);
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
        let variances = dir.path().join(hourglass_spec::result::LATENT_FILE);
        std::fs::write(&variances, "dimension,mean,variance\n0,0.1,0.5\n1,0,2\n").unwrap();
        assert_eq!(read_variances(&variances), Some(vec![2.0, 0.5]));
        // A VAE's file adds each dimension's KL after the variance.
        let vae = "dimension,mean,variance,kl_nats\n0,0.1,0.5,3\n1,0,2,0.01\n";
        std::fs::write(&variances, vae).unwrap();
        assert_eq!(read_variances(&variances), Some(vec![2.0, 0.5]));
        std::fs::write(&variances, "dimension,mean,variance\n0,0.1,x\n").unwrap();
        assert_eq!(read_variances(&variances), None);
    }
}
