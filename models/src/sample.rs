//! Drawing images in burn with the project's seeded rule ([`pixelcnn_core::rng`]: one
//! SplitMix64 stream per image, inverse CDF in f64), so a seed gives the same images
//! here as on every exported-graph runtime, up to float differences in the logits.
//!
//! The Gated PixelCNN (and the auto-encoder's decoder) samples with its cached steps
//! ([`GatedPixelCnn::step_row`], [`GatedPixelCnn::step_pixel`]): the vertical stack
//! once per row, the horizontal stack and the head once per sub-pixel. The plain
//! PixelCNN has no cache and runs the full network once per sub-pixel.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use pixelcnn_core::rng::{check_temperature, sample_logits, DrawError, Mode, SplitMix64};

use crate::conditioning::Condition;
use crate::fused::FusedOps;
use crate::gated::GatedPixelCnn;
use crate::model::{PixelModel, NORM_SCALE};
use crate::spec::LEVELS;

/// Position of a sub-pixel: (row, column, colour).
pub type SubPixel = (usize, usize, usize);

impl<B: FusedOps> PixelModel<B> {
    /// Samples one image per entry of `seeds` (see [`pixelcnn_core::rng::image_seed`]),
    /// `[n, C, H, W]` values, conditioned on `cond` (batched to `n`; the auto-encoder
    /// takes its bottleneck as `Condition::Vector`). [`Mode::Naive`], or a model without
    /// cached steps, runs the full network once per sub-pixel: the slow reference the
    /// cached samplers are checked against.
    ///
    /// # Errors
    /// A temperature that is not a finite number > 0, or non-finite logits.
    pub fn sample(
        &self,
        cond: &Condition<B>,
        seeds: &[u64],
        temperature: f64,
        mode: Mode,
        device: &B::Device,
    ) -> Result<Vec<u8>, DrawError> {
        check_temperature(temperature)?;
        let mut rngs: Vec<SplitMix64> = seeds.iter().map(|&s| SplitMix64::new(s)).collect();
        let draw = |_: SubPixel, logits: Vec<f64>| draw_all(&logits, temperature, &mut rngs);
        match (self.gated(), mode) {
            (Some(net), Mode::Cached) => self.cached_loop(net, cond, seeds.len(), device, draw),
            _ => self.naive_loop(cond, seeds.len(), device, draw),
        }
    }

    /// The cached steps under teacher forcing: feeds `images` (`[n, C, H, W]` values)
    /// through the step loop and returns the logits of every sub-pixel in the layout of
    /// [`Self::forward`], `[n, C, H, W, 256]` flattened. `None` for the plain PixelCNN.
    pub fn cached_logits(&self, images: &[u8], cond: &Condition<B>, device: &B::Device) -> Option<Vec<f64>> {
        let net = self.gated()?;
        let s = &self.spec;
        let (c, h, w) = (s.channels, s.height, s.width);
        let n = images.len() / s.dims();
        let mut out = vec![0f64; images.len() * LEVELS];
        self.cached_loop(net, cond, n, device, |(i, j, ch), logits| {
            (0..n)
                .map(|b| {
                    let at = ((b * c + ch) * h + i) * w + j;
                    let dst = &mut out[at * LEVELS..(at + 1) * LEVELS];
                    dst.copy_from_slice(&logits[b * LEVELS..(b + 1) * LEVELS]);
                    Ok(images[at])
                })
                .collect()
        })
        .expect("teacher forcing draws nothing");
        Some(out)
    }

    /// Row `i` of the sub-pixels drawn so far, normalised as in [`crate::model::normalize`].
    fn row_tensor(&self, row: &[u8], n: usize, device: &B::Device) -> Tensor<B, 3> {
        let (c, w) = (self.spec.channels, self.spec.width);
        let v: Vec<f32> = row.iter().map(|&x| x as f32).collect();
        Tensor::<B, 3>::from_data(TensorData::new(v, [n, c, w]), device)
            .div_scalar(NORM_SCALE)
            .sub_scalar(1.0)
    }

    /// Visits every sub-pixel in raster order, then R, G, B: `choose` gets its position
    /// and the logits of all `n` images (`[n * 256]`, widened to f64) and returns the `n` values
    /// to write there. Returns the images.
    fn cached_loop(
        &self,
        net: &GatedPixelCnn<B>,
        cond: &Condition<B>,
        n: usize,
        device: &B::Device,
        mut choose: impl FnMut(SubPixel, Vec<f64>) -> Result<Vec<u8>, DrawError>,
    ) -> Result<Vec<u8>, DrawError> {
        let s = &self.spec;
        let (c, h, w) = (s.channels, s.height, s.width);
        let features = cond.features(&s.decoder_conditioning(), self.spatial_map.as_ref());
        let mut images = vec![0u8; n * c * h * w];
        let mut cache = net.cache(n, w, device);
        let mut row = vec![0u8; n * c * w];
        for i in 0..h {
            cache.next_row();
            row.fill(0);
            for j in 0..w {
                let mut present = None;
                for ch in 0..c {
                    let x = self.row_tensor(&row, n, device);
                    let (logits, p) = net.step_pixel(x, &cache, &features, (i, j));
                    let logits = logits.narrow(1, ch * LEVELS, LEVELS);
                    let values = choose((i, j, ch), to_f64(logits))?;
                    for (b, &v) in values.iter().enumerate() {
                        row[(b * c + ch) * w + j] = v;
                        images[((b * c + ch) * h + i) * w + j] = v;
                    }
                    present = Some(p);
                }
                cache.next_pixel(present.expect("at least one colour"));
            }
            net.step_row(self.row_tensor(&row, n, device), &mut cache, &features, i);
        }
        Ok(images)
    }

    /// [`Self::cached_loop`] with the full network once per sub-pixel.
    fn naive_loop(
        &self,
        cond: &Condition<B>,
        n: usize,
        device: &B::Device,
        mut choose: impl FnMut(SubPixel, Vec<f64>) -> Result<Vec<u8>, DrawError>,
    ) -> Result<Vec<u8>, DrawError> {
        let s = &self.spec;
        let (c, h, w) = (s.channels, s.height, s.width);
        let mut images = vec![0u8; n * c * h * w];
        for i in 0..h {
            for j in 0..w {
                for ch in 0..c {
                    let v: Vec<f32> = images.iter().map(|&x| x as f32).collect();
                    let x = Tensor::<B, 4>::from_data(TensorData::new(v, [n, c, h, w]), device);
                    let logits = self
                        .forward(x, cond)
                        .narrow(1, ch, 1)
                        .narrow(2, i, 1)
                        .narrow(3, j, 1)
                        .reshape([n, LEVELS]);
                    for (b, &v) in choose((i, j, ch), to_f64(logits))?.iter().enumerate() {
                        images[((b * c + ch) * h + i) * w + j] = v;
                    }
                }
            }
        }
        Ok(images)
    }
}

/// One draw per image from logits `[n * 256]` (f32 logits widened to f64 narrow back
/// exactly, so f32 backends draw from their own values).
fn draw_all(logits: &[f64], temperature: f64, rngs: &mut [SplitMix64]) -> Result<Vec<u8>, DrawError> {
    logits
        .chunks(LEVELS)
        .zip(rngs.iter_mut())
        .map(|(l, rng)| {
            let l: Vec<f32> = l.iter().map(|&v| v as f32).collect();
            sample_logits(&l, temperature, rng)
        })
        .collect()
}

fn to_f64<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec().expect("float logits")
}
