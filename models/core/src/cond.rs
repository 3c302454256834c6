//! [`CondInput`]: what a batch of images is conditioned on, as plain host data. Every part
//! of the project takes this one type (the trainer's batches, the exporter's reference
//! outputs, the runtime's samplers); the burn model converts it once
//! (`pixelcnn_models::Condition::from_host`), the runtime turns it into graph inputs.

use crate::spec::Conditioning;

/// What the images of a batch are conditioned on.
#[derive(Debug, Clone, PartialEq)]
pub enum CondInput {
    None,
    /// One label per image.
    Labels(Vec<i64>),
    /// One `dim`-vector per image, row-major `[n, dim]` (vector and spatial conditioning).
    Vectors(Vec<f32>, usize),
}

/// A condition that does not fit the model or the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CondError {
    #[error("the model is conditioned on {want:?}, the request gives {got}")]
    Kind { want: Conditioning, got: &'static str },
    #[error("{got} labels for {n} images")]
    Labels { got: usize, n: usize },
    #[error("label {label} is out of range 0..={}", .classes - 1)]
    Label { label: i64, classes: usize },
    #[error("conditioning vectors have {got} columns, the model expects {want}")]
    Dim { got: usize, want: usize },
    #[error("{got} conditioning values for {n} images of {dim}")]
    Vectors { got: usize, n: usize, dim: usize },
}

impl CondInput {
    fn kind(&self) -> &'static str {
        match self {
            Self::None => "no condition",
            Self::Labels(_) => "labels",
            Self::Vectors(..) => "vectors",
        }
    }

    /// Checks the condition of `n` images against the decoder's conditioning `want`.
    pub fn check(&self, want: &Conditioning, n: usize) -> Result<(), CondError> {
        match (want, self) {
            (Conditioning::None, Self::None) => Ok(()),
            (Conditioning::Class { classes }, Self::Labels(l)) => {
                if l.len() != n {
                    return Err(CondError::Labels { got: l.len(), n });
                }
                match l.iter().find(|&&v| v < 0 || v as usize >= *classes) {
                    Some(&label) => Err(CondError::Label {
                        label,
                        classes: *classes,
                    }),
                    None => Ok(()),
                }
            }
            (Conditioning::Vector { dim } | Conditioning::Spatial { dim, .. }, Self::Vectors(v, d)) => {
                if d != dim {
                    Err(CondError::Dim { got: *d, want: *dim })
                } else if v.len() != n * dim {
                    Err(CondError::Vectors {
                        got: v.len(),
                        n,
                        dim: *dim,
                    })
                } else {
                    Ok(())
                }
            }
            (want, got) => Err(CondError::Kind {
                want: want.clone(),
                got: got.kind(),
            }),
        }
    }

    /// The condition of images `idx` (in that order) of this batch.
    ///
    /// # Panics
    /// If an index is outside the batch.
    pub fn select(&self, idx: &[usize]) -> Self {
        match self {
            Self::None => Self::None,
            Self::Labels(l) => Self::Labels(idx.iter().map(|&k| l[k]).collect()),
            Self::Vectors(v, d) => {
                Self::Vectors(idx.iter().flat_map(|&k| v[k * d..(k + 1) * d].to_vec()).collect(), *d)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_what_does_not_fit() {
        let class = Conditioning::Class { classes: 10 };
        assert_eq!(CondInput::Labels(vec![0, 9]).check(&class, 2), Ok(()));
        assert_eq!(
            CondInput::Labels(vec![0, 10]).check(&class, 2),
            Err(CondError::Label { label: 10, classes: 10 })
        );
        assert_eq!(
            CondInput::Labels(vec![-1]).check(&class, 1),
            Err(CondError::Label { label: -1, classes: 10 })
        );
        assert_eq!(
            CondInput::Labels(vec![1]).check(&class, 2),
            Err(CondError::Labels { got: 1, n: 2 })
        );
        assert!(matches!(CondInput::None.check(&class, 1), Err(CondError::Kind { .. })));
        let vector = Conditioning::Vector { dim: 3 };
        assert_eq!(CondInput::Vectors(vec![0.0; 6], 3).check(&vector, 2), Ok(()));
        assert_eq!(
            CondInput::Vectors(vec![0.0; 6], 2).check(&vector, 3),
            Err(CondError::Dim { got: 2, want: 3 })
        );
        assert_eq!(
            CondInput::Vectors(vec![0.0; 5], 3).check(&vector, 2),
            Err(CondError::Vectors { got: 5, n: 2, dim: 3 })
        );
        assert!(matches!(
            CondInput::Labels(vec![0]).check(&Conditioning::None, 1),
            Err(CondError::Kind { .. })
        ));
    }

    #[test]
    fn select_picks_rows_in_order() {
        let v = CondInput::Vectors(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2);
        assert_eq!(
            v.select(&[2, 0, 2]),
            CondInput::Vectors(vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0], 2)
        );
        assert_eq!(
            CondInput::Labels(vec![7, 8]).select(&[1, 1]),
            CondInput::Labels(vec![8, 8])
        );
        assert_eq!(CondInput::None.select(&[0, 0]), CondInput::None);
    }
}
