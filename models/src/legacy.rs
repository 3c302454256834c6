//! Records of older weights layouts, so that their checkpoints (shipped ones included)
//! still load, score and resume with the same parameter values and ids: V1 (`model.bin`)
//! held the decoder as two options, V2 (`weights.bin`) each conditioning projection as
//! two options; `upgrade` moves the same parameters into today's enum modules.

use burn::module::{EmptyRecord, Module, Param};
use burn::record::Record;
use burn::tensor::{backend::Backend, Tensor};

use crate::autoencoder::Encoder;
use crate::baseline::{MaskedLayerRecord, PixelCnnRecord};
use crate::conditioning::{CondProjection, CondProjectionRecord, SpatialMap};
use crate::conv::Conv;
use crate::gated::{GatedLayerRecord, GatedPixelCnnRecord};
use crate::head::Head;
use crate::model::{DecoderRecord, PixelModelRecord};

type Rec<B, M> = <M as Module<B>>::Record;

#[derive(Record)]
pub struct CondProjectionRecordV2<B: Backend> {
    pub dense: Rec<B, Option<Param<Tensor<B, 2>>>>,
    pub map: Rec<B, Option<Conv<B>>>,
}

#[derive(Record)]
pub struct GatedLayerRecordV2<B: Backend> {
    pub v_conv: Rec<B, Conv<B>>,
    pub link: Rec<B, Conv<B>>,
    pub h_conv: Rec<B, Conv<B>>,
    pub h_out: Rec<B, Conv<B>>,
    pub v_cond: Option<CondProjectionRecordV2<B>>,
    pub h_cond: Option<CondProjectionRecordV2<B>>,
    pub residual: EmptyRecord,
}

#[derive(Record)]
pub struct MaskedLayerRecordV2<B: Backend> {
    pub conv: Rec<B, Conv<B>>,
    pub cond: Option<CondProjectionRecordV2<B>>,
}

/// Either decoder's V2 record: its layers and its head.
#[derive(Record)]
pub struct NetRecordV2<B: Backend, L: Record<B>> {
    pub layers: Vec<L>,
    pub head: Rec<B, Head<B>>,
}

#[derive(Record)]
pub enum DecoderRecordV2<B: Backend> {
    Gated(NetRecordV2<B, GatedLayerRecordV2<B>>),
    Plain(NetRecordV2<B, MaskedLayerRecordV2<B>>),
}

/// The record of `weights.bin`.
#[derive(Record)]
pub struct PixelModelRecordV2<B: Backend> {
    pub decoder: DecoderRecordV2<B>,
    pub encoder: Rec<B, Option<Encoder<B>>>,
    pub spatial_map: Rec<B, Option<SpatialMap<B>>>,
    pub spec: EmptyRecord,
}

/// The record of `model.bin`.
#[derive(Record)]
pub struct PixelModelRecordV1<B: Backend> {
    pub gated: Option<NetRecordV2<B, GatedLayerRecordV2<B>>>,
    pub baseline: Option<NetRecordV2<B, MaskedLayerRecordV2<B>>>,
    pub encoder: Rec<B, Option<Encoder<B>>>,
    pub spatial_map: Rec<B, Option<SpatialMap<B>>>,
    pub spec: EmptyRecord,
}

impl<B: Backend> PixelModelRecordV1<B> {
    pub fn upgrade(self) -> Result<PixelModelRecord<B>, &'static str> {
        let decoder = match (self.gated, self.baseline) {
            (Some(g), _) => DecoderRecordV2::Gated(g),
            (None, Some(p)) => DecoderRecordV2::Plain(p),
            (None, None) => return Err("holds no decoder"),
        };
        let (encoder, spatial_map, spec) = (self.encoder, self.spatial_map, self.spec);
        PixelModelRecordV2 {
            decoder,
            encoder,
            spatial_map,
            spec,
        }
        .upgrade()
    }
}

impl<B: Backend> PixelModelRecordV2<B> {
    pub fn upgrade(self) -> Result<PixelModelRecord<B>, &'static str> {
        let decoder = match self.decoder {
            DecoderRecordV2::Gated(g) => DecoderRecord::Gated(GatedPixelCnnRecord {
                layers: (g.layers.into_iter())
                    .map(|l| {
                        let (v_cond, h_cond) = (upgrade(l.v_cond)?, upgrade(l.h_cond)?);
                        let (v_conv, link, h_conv, h_out, residual) = (l.v_conv, l.link, l.h_conv, l.h_out, l.residual);
                        Ok(GatedLayerRecord {
                            v_conv,
                            link,
                            h_conv,
                            h_out,
                            v_cond,
                            h_cond,
                            residual,
                        })
                    })
                    .collect::<Result<_, &str>>()?,
                head: g.head,
            }),
            DecoderRecordV2::Plain(p) => DecoderRecord::Plain(PixelCnnRecord {
                layers: (p.layers.into_iter())
                    .map(|l| {
                        Ok(MaskedLayerRecord {
                            conv: l.conv,
                            cond: upgrade(l.cond)?,
                        })
                    })
                    .collect::<Result<_, &str>>()?,
                head: p.head,
            }),
        };
        let (encoder, spatial_map, spec) = (self.encoder, self.spatial_map, self.spec);
        Ok(PixelModelRecord {
            decoder,
            encoder,
            spatial_map,
            spec,
        })
    }
}

/// A layer's optional V2 projection in today's layout.
fn upgrade<B: Backend>(
    proj: Option<CondProjectionRecordV2<B>>,
) -> Result<Rec<B, Option<CondProjection<B>>>, &'static str> {
    Ok(match proj.map(|p| (p.dense, p.map)) {
        None => None,
        Some((Some(w), None)) => Some(CondProjectionRecord::Dense(w)),
        Some((None, Some(conv))) => Some(CondProjectionRecord::Map(conv)),
        Some(_) => return Err("holds a conditioning projection that is neither dense nor a map"),
    })
}
