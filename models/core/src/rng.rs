//! Host-side sampling of sub-pixels, identical on every runtime and in every language.
//!
//! Each image has its own stream: SplitMix64 (Steele et al. 2014) started at
//! `state = seed`, advanced once per *sampled* sub-pixel, in raster order and R, G, B
//! within a pixel. A draw is `u = (next() >> 11) * 2^-53` in [0, 1). The value is the
//! inverse CDF of `softmax(logits / T)` computed in f64: the smallest k with
//! `p_0 + ... + p_k > u` (255 if rounding leaves none). `scripts/sample_onnxruntime.py`
//! implements the same rule, so the same seed gives the same image everywhere.

/// How images are drawn: `Cached` runs the cached steps (the vertical stack once per
/// row, the horizontal stack and head once per sub-pixel), `Naive` the whole network once
/// per sub-pixel (the reference; the only way for the plain PixelCNN, which has no cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cached,
    Naive,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cached" => Ok(Self::Cached),
            "naive" => Ok(Self::Naive),
            o => Err(format!("unknown mode `{o}`: expected cached or naive")),
        }
    }
}

/// SplitMix64 stream of one image.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Default stream seed of image `index` of a request seeded with `seed`.
pub fn image_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add((index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Why a sub-pixel could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DrawError {
    #[error("temperature must be a finite number > 0, got {0}")]
    Temperature(f64),
    #[error("the model produced non-finite logits (NaN or +inf, or all -inf): its weights or inputs are broken")]
    NonFiniteLogits,
}

/// Checks a sampling temperature: finite and > 0 (no silent clamping).
pub fn check_temperature(temperature: f64) -> Result<f64, DrawError> {
    if temperature.is_finite() && temperature > 0.0 {
        Ok(temperature)
    } else {
        Err(DrawError::Temperature(temperature))
    }
}

/// Draws one value from `logits` (256 of them) at temperature `temperature`.
pub fn sample_logits(logits: &[f32], temperature: f64, rng: &mut SplitMix64) -> Result<u8, DrawError> {
    let u = rng.next_f64();
    inverse_cdf(logits, temperature, u)
}

/// The inverse-CDF rule, separated for tests: the smallest k with
/// `p_0 + ... + p_k > u * sum(p)`, `p = exp((logits - max) / T)` in f64.
pub fn inverse_cdf(logits: &[f32], temperature: f64, u: f64) -> Result<u8, DrawError> {
    let t = check_temperature(temperature)?;
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    if !max.is_finite() || logits.iter().any(|v| v.is_nan()) {
        return Err(DrawError::NonFiniteLogits);
    }
    let mut probs = [0f64; 256];
    let mut total = 0.0;
    for (p, &l) in probs.iter_mut().zip(logits) {
        *p = ((l as f64 - max) / t).exp();
        total += *p;
    }
    let target = u * total;
    let mut acc = 0.0;
    for (k, p) in probs.iter().enumerate().take(logits.len()) {
        acc += p;
        if acc > target {
            return Ok(k as u8);
        }
    }
    Ok((logits.len() - 1) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference: SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn inverse_cdf_picks_by_mass() {
        let mut l = vec![-1e9f32; 256];
        l[3] = 0.0;
        l[7] = 0.0;
        assert_eq!(inverse_cdf(&l, 1.0, 0.2), Ok(3));
        assert_eq!(inverse_cdf(&l, 1.0, 0.7), Ok(7));
        assert_eq!(inverse_cdf(&l, 1.0, 0.999_999), Ok(7));
        // a tiny temperature is the argmax, not an error or a clamp
        l[7] = 1e-3;
        assert_eq!(inverse_cdf(&l, 1e-9, 0.0), Ok(7));
        assert_eq!(inverse_cdf(&l, 1e-9, 0.999), Ok(7));
    }

    #[test]
    fn bad_temperatures_and_non_finite_logits_are_errors() {
        let l = vec![0f32; 256];
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(inverse_cdf(&l, t, 0.5), Err(DrawError::Temperature(_))), "{t}");
        }
        for bad in [f32::NAN, f32::INFINITY] {
            let mut m = l.clone();
            m[200] = bad;
            assert_eq!(inverse_cdf(&m, 1.0, 0.5), Err(DrawError::NonFiniteLogits), "{bad}");
        }
        assert_eq!(
            inverse_cdf(&[f32::NEG_INFINITY; 256], 1.0, 0.5),
            Err(DrawError::NonFiniteLogits)
        );
        // -inf on some values is a zero probability, not an error
        let mut m = l.clone();
        m[..255].fill(f32::NEG_INFINITY);
        assert_eq!(inverse_cdf(&m, 1.0, 0.5), Ok(255));
    }
}
