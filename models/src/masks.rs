//! Causality masks as plain `f32` arrays in ONNX/burn weight layout `[out, in, kh, kw]`.
//!
//! Geometry (rows above, columns to the left) is handled by the kernel shapes and
//! padding of the stacks, so masks only exist where a kernel touches the current pixel:
//! there, output feature group `g` may read input group `g'` only if `g' < g` (type A, the
//! first layer: a colour never sees itself) or `g' <= g` (type B, later layers).

/// Which channel-group rule applies at the current pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// First layer: strictly earlier colours of the current pixel.
    A,
    /// Later layers: the same colour group or earlier.
    B,
}

/// Whether an output feature of colour group `go` may read an input feature of group
/// `gi` at the current pixel.
pub fn group_allows(kind: MaskKind, go: usize, gi: usize) -> bool {
    match kind {
        MaskKind::A => gi < go,
        MaskKind::B => gi <= go,
    }
}

/// Mask of a `1 x kw` horizontal-stack kernel whose last tap is the current pixel;
/// `out_groups`/`in_groups` give each feature's colour group (see `ModelSpec::groups`
/// and `ModelSpec::gate_groups`).
pub fn horizontal(kind: MaskKind, out_groups: &[usize], in_groups: &[usize], kw: usize) -> Vec<f32> {
    let (cout, cin) = (out_groups.len(), in_groups.len());
    let mut m = vec![1.0; cout * cin * kw];
    for (o, &go) in out_groups.iter().enumerate() {
        for (i, &gi) in in_groups.iter().enumerate() {
            if !group_allows(kind, go, gi) {
                m[(o * cin + i) * kw + kw - 1] = 0.0;
            }
        }
    }
    m
}

/// Mask of a 1x1 convolution applied at the current pixel (horizontal stack, head).
pub fn pointwise(kind: MaskKind, out_groups: &[usize], in_groups: &[usize]) -> Vec<f32> {
    horizontal(kind, out_groups, in_groups, 1)
}

/// Mask of the original PixelCNN's `n x n` masked convolution: all rows above, the
/// current row left of the centre, and the centre tap by channel groups.
pub fn full(kind: MaskKind, out_groups: &[usize], in_groups: &[usize], n: usize) -> Vec<f32> {
    let (cout, cin) = (out_groups.len(), in_groups.len());
    let c = n / 2;
    let mut m = vec![0.0; cout * cin * n * n];
    for (o, &go) in out_groups.iter().enumerate() {
        for (i, &gi) in in_groups.iter().enumerate() {
            for r in 0..n {
                for s in 0..n {
                    let allowed = r < c || (r == c && s < c) || (r == c && s == c && group_allows(kind, go, gi));
                    if allowed {
                        m[((o * cin + i) * n + r) * n + s] = 1.0;
                    }
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Arch, Conditioning, ModelSpec};

    fn spec(channels: usize) -> ModelSpec {
        ModelSpec {
            arch: Arch::Gated,
            channels,
            height: 8,
            width: 8,
            layers: 2,
            hidden: 6,
            first_kernel: 3,
            kernel: 3,
            head_hidden: 6,
            conditioning: Conditioning::None,
            encoder: None,
        }
    }

    #[test]
    fn grayscale_type_a_hides_the_current_pixel_and_type_b_shows_it() {
        let s = spec(1);
        let a = horizontal(MaskKind::A, &s.groups(4), &s.groups(1), 2);
        assert_eq!(a, vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        assert!(horizontal(MaskKind::B, &s.groups(4), &s.groups(4), 2)
            .iter()
            .all(|&v| v == 1.0));
    }

    #[test]
    fn rgb_centre_taps_follow_colour_order() {
        let s = spec(3);
        // image -> 6 features (groups 0,0,1,1,2,2), type A, 1x1
        let a = pointwise(MaskKind::A, &s.groups(6), &s.groups(3));
        let rows: Vec<Vec<f32>> = a.chunks(3).map(|c| c.to_vec()).collect();
        assert_eq!(rows[0], vec![0.0, 0.0, 0.0]); // R sees nothing of this pixel
        assert_eq!(rows[2], vec![1.0, 0.0, 0.0]); // G sees R
        assert_eq!(rows[5], vec![1.0, 1.0, 0.0]); // B sees R, G
        let b = pointwise(MaskKind::B, &s.groups(3), &s.groups(6));
        assert_eq!(&b[0..6], &[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(&b[12..18], &[1.0; 6]);
    }

    #[test]
    fn gate_halves_share_groups() {
        let s = spec(3);
        assert_eq!(s.gate_groups(3), vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn full_mask_is_causal() {
        let s = spec(1);
        let m = full(MaskKind::A, &s.groups(1), &s.groups(1), 3);
        assert_eq!(m, vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let m = full(MaskKind::B, &s.groups(1), &s.groups(1), 3);
        assert_eq!(m, vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
