//! `ModelSpec`: the one description of a model that flows from the training config into
//! every checkpoint, into the ONNX metadata and into the runtime. Every shape anywhere in
//! the project is derived from here, never written down twice.

use serde::{Deserialize, Serialize};

/// Which network family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Gated PixelCNN (van den Oord et al. 2016, Figure 2): vertical + horizontal stacks.
    Gated,
    /// The original masked-convolution PixelCNN with ReLUs. It has the blind spot; kept
    /// to reproduce the paper's ablation.
    Pixelcnn,
    /// PixelCNN auto-encoder (paper §2.4): conv encoder -> bottleneck -> Gated decoder
    /// conditioned on the bottleneck vector.
    Autoencoder,
}

/// What the model is conditioned on (paper §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Conditioning {
    /// Unconditional.
    #[default]
    None,
    /// One of `classes` labels: a learned per-layer bias in both gates of both stacks.
    Class { classes: usize },
    /// A `dim`-dimensional vector per image (e.g. an embedding from another network).
    Vector { dim: usize },
    /// A `dim`-dimensional vector mapped by a deconvolutional net to `map_channels` maps of
    /// the image's size, added through unmasked 1x1 convolutions (location dependent).
    Spatial {
        dim: usize,
        #[serde(default = "default_map_channels")]
        map_channels: usize,
    },
}

fn default_map_channels() -> usize {
    8
}

/// The auto-encoder's encoder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSpec {
    /// Size m of the bottleneck vector h (the paper uses 10 and 100).
    pub bottleneck: usize,
    /// Feature maps of the encoder's convolutions.
    #[serde(default = "default_encoder_hidden")]
    pub hidden: usize,
    /// How the decoder sees h: absent, as a vector (a learned bias per layer, the same at
    /// every pixel); set, through a deconvolutional map m(h) of this many channels, a
    /// location-dependent bias (paper §2.3), so the code can say where strokes go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_channels: Option<usize>,
}

fn default_encoder_hidden() -> usize {
    32
}

/// Complete description of a model. Stored as JSON in checkpoints and ONNX metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub arch: Arch,
    /// Colour channels C: 1 (grayscale) or 3 (RGB, generated R then G then B).
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Number of (gated or masked) layers, the first one included.
    pub layers: usize,
    /// Feature maps p of every layer.
    pub hidden: usize,
    /// Kernel size n of the first layer (odd).
    #[serde(default = "default_first_kernel")]
    pub first_kernel: usize,
    /// Kernel size n of the other layers (odd).
    #[serde(default = "default_kernel")]
    pub kernel: usize,
    /// Feature maps of the output head's hidden 1x1 layer.
    #[serde(default = "default_head_hidden")]
    pub head_hidden: usize,
    #[serde(default)]
    pub conditioning: Conditioning,
    /// Only for `arch: autoencoder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<EncoderSpec>,
}

fn default_first_kernel() -> usize {
    7
}
fn default_kernel() -> usize {
    3
}
fn default_head_hidden() -> usize {
    128
}

/// Number of values a sub-pixel can take.
pub const LEVELS: usize = 256;

/// A spec that does not describe a buildable model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid model spec: field `{field}`: {problem}")]
pub struct SpecError {
    pub field: &'static str,
    pub problem: String,
}

/// `Err` naming `field` and `problem` unless `ok`.
fn check(ok: bool, field: &'static str, problem: impl Into<String>) -> Result<(), SpecError> {
    if ok {
        return Ok(());
    }
    Err(SpecError {
        field,
        problem: problem.into(),
    })
}

impl ModelSpec {
    /// Checks every constraint the models and graphs rely on.
    pub fn validate(&self) -> Result<(), SpecError> {
        let (c, h, w) = (self.channels, self.height, self.width);
        check(c == 1 || c == 3, "channels", format!("expected 1 or 3, got {c}"))?;
        check(h > 0 && w > 0, "height/width", "must be positive")?;
        check(self.layers > 0, "layers", "must be at least 1")?;
        let why = format!("must be at least `channels` ({c}) so every colour has features");
        check(self.hidden >= c, "hidden", why)?;
        check(self.head_hidden >= c, "head_hidden", format!("must be at least {c}"))?;
        for (field, k) in [("first_kernel", self.first_kernel), ("kernel", self.kernel)] {
            check(
                k >= 3 && !k.is_multiple_of(2),
                field,
                format!("expected an odd size >= 3, got {k}"),
            )?;
        }
        let ae = self.arch == Arch::Autoencoder;
        check(
            !ae || self.encoder.is_some(),
            "encoder",
            "arch `autoencoder` needs an `encoder` section",
        )?;
        check(
            ae || self.encoder.is_none(),
            "encoder",
            "only arch `autoencoder` takes an encoder",
        )?;
        if let Some(enc) = &self.encoder {
            let positive = enc.bottleneck > 0 && enc.hidden > 0 && enc.map_channels != Some(0);
            check(
                positive,
                "encoder",
                "bottleneck, hidden and map_channels must be positive",
            )?;
            let why = "an autoencoder is conditioned on its own bottleneck: leave `conditioning` out";
            check(self.conditioning == Conditioning::None, "conditioning", why)?;
        }
        // what the decoder sees: the config's conditioning, or the code of the encoder above
        match &self.decoder_conditioning() {
            Conditioning::None => {}
            Conditioning::Class { classes } => check(*classes >= 2, "conditioning.classes", "must be at least 2")?,
            Conditioning::Vector { dim } => check(*dim > 0, "conditioning.dim", "must be positive")?,
            Conditioning::Spatial { dim, map_channels } => {
                check(*dim > 0, "conditioning.dim", "must be positive")?;
                check(*map_channels > 0, "conditioning.map_channels", "must be positive")?;
                let why = format!(
                    "spatial conditioning upsamples by 4: height and width must be multiples of 4, got {h}x{w}"
                );
                check(h.is_multiple_of(4) && w.is_multiple_of(4), "conditioning", why)?;
            }
        }
        Ok(())
    }

    /// Sub-pixels per image, D = C*H*W (the denominator of bits/dim).
    pub fn dims(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The conditioning the decoder sees. For the auto-encoder this is the encoder's
    /// bottleneck h, as a vector or through a spatial map (`encoder.map_channels`).
    pub fn decoder_conditioning(&self) -> Conditioning {
        match (&self.arch, &self.encoder) {
            (Arch::Autoencoder, Some(enc)) => match enc.map_channels {
                None => Conditioning::Vector { dim: enc.bottleneck },
                Some(map_channels) => Conditioning::Spatial {
                    dim: enc.bottleneck,
                    map_channels,
                },
            },
            _ => self.conditioning.clone(),
        }
    }

    /// Colour group of feature `k` out of `features`: features are split into C
    /// contiguous groups, group g computing the distribution of colour g.
    pub fn group_of(&self, k: usize, features: usize) -> usize {
        k * self.channels / features
    }

    /// Colour groups of a gated unit's `2p` pre-activations: the tanh half and the
    /// sigmoid half are multiplied feature by feature, so feature `k` of both halves must
    /// belong to the same group as gated output `k`.
    pub fn gate_groups(&self, p: usize) -> Vec<usize> {
        let half: Vec<usize> = (0..p).map(|k| self.group_of(k, p)).collect();
        half.iter().chain(half.iter()).copied().collect()
    }

    /// Colour groups of `features` ordinary feature maps (image channels, hidden maps,
    /// logits: index `c*256 + k` belongs to colour c).
    pub fn groups(&self, features: usize) -> Vec<usize> {
        (0..features).map(|k| self.group_of(k, features)).collect()
    }

    /// Rows of the vertical stack's input kept by the cached sampler for layer `l`.
    pub fn vertical_state_rows(&self, layer: usize) -> usize {
        self.kernel_of(layer) / 2
    }

    /// Columns of the horizontal stack's input kept by the cached sampler for layer `l`.
    pub fn horizontal_state_cols(&self, layer: usize) -> usize {
        self.kernel_of(layer) / 2
    }

    /// Kernel size of layer `l`.
    pub fn kernel_of(&self, layer: usize) -> usize {
        if layer == 0 {
            self.first_kernel
        } else {
            self.kernel
        }
    }

    /// Input feature maps of layer `l` (the image's channels for layer 0).
    pub fn in_features(&self, layer: usize) -> usize {
        if layer == 0 {
            self.channels
        } else {
            self.hidden
        }
    }

    /// JSON text, as stored in checkpoints and in ONNX `metadata_props`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ModelSpec serialises")
    }

    /// Parses and validates a spec from JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let spec: ModelSpec = serde_json::from_str(text).map_err(|e| format!("model spec JSON: {e}"))?;
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gated() -> ModelSpec {
        ModelSpec {
            arch: Arch::Gated,
            channels: 1,
            height: 28,
            width: 28,
            layers: 5,
            hidden: 16,
            first_kernel: 7,
            kernel: 3,
            head_hidden: 32,
            conditioning: Conditioning::None,
            encoder: None,
        }
    }

    #[test]
    fn json_round_trip() {
        let mut s = gated();
        s.conditioning = Conditioning::Spatial {
            dim: 4,
            map_channels: 8,
        };
        assert_eq!(ModelSpec::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let mut s = gated();
        s.kernel = 4;
        assert_eq!(s.validate().unwrap_err().field, "kernel");
        let mut s = gated();
        s.channels = 2;
        assert_eq!(s.validate().unwrap_err().field, "channels");
        let mut s = gated();
        s.arch = Arch::Autoencoder;
        assert_eq!(s.validate().unwrap_err().field, "encoder");
        let mut s = gated();
        s.height = 30;
        s.conditioning = Conditioning::Spatial {
            dim: 3,
            map_channels: 4,
        };
        assert_eq!(s.validate().unwrap_err().field, "conditioning");
    }

    #[test]
    fn an_autoencoder_decodes_its_code_as_a_vector_or_a_spatial_map() {
        let mut s = gated();
        s.arch = Arch::Autoencoder;
        let enc = |map_channels| EncoderSpec {
            bottleneck: 10,
            hidden: 8,
            map_channels,
        };
        s.encoder = Some(enc(None));
        assert_eq!(s.decoder_conditioning(), Conditioning::Vector { dim: 10 });
        // specs written before `map_channels` existed read as vector decoders
        assert_eq!(ModelSpec::from_json(&s.to_json()).unwrap(), s);
        assert!(!s.to_json().contains("map_channels"));
        s.encoder = Some(enc(Some(8)));
        s.validate().unwrap();
        let spatial = Conditioning::Spatial {
            dim: 10,
            map_channels: 8,
        };
        assert_eq!(s.decoder_conditioning(), spatial);
        assert_eq!(ModelSpec::from_json(&s.to_json()).unwrap(), s);
        s.encoder = Some(enc(Some(0)));
        assert_eq!(s.validate().unwrap_err().field, "encoder");
        s.encoder = Some(enc(Some(8)));
        s.height = 30; // the map upsamples by 4
        assert_eq!(s.validate().unwrap_err().field, "conditioning");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = gated().to_json().replace("\"layers\"", "\"layer_count\"");
        let err = ModelSpec::from_json(&text).unwrap_err();
        assert!(err.contains("layer_count"), "{err}");
    }

    #[test]
    fn groups_split_features_in_colour_order() {
        let mut s = gated();
        s.channels = 3;
        let groups: Vec<usize> = (0..8).map(|k| s.group_of(k, 8)).collect();
        assert_eq!(groups, vec![0, 0, 0, 1, 1, 1, 2, 2]);
    }
}
