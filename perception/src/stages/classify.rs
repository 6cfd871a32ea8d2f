//! Classification of what was detected: one batched classifier run per
//! image over its vehicle crops (subtype), and traffic-light lamp states.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use heptaview_models::attributes::attributes;
use heptaview_models::classifier::Classifier;
use heptaview_runtime::stage::{Output, Stage};

use crate::config::PipelineConfig;
use crate::error::PipelineError;
use crate::stage_context::{InferenceCounters, SetStage, StageContext};
use crate::types::FrameSet;

pub struct ClassifyStage {
    classifier: Option<Classifier>,
    counters: Arc<InferenceCounters>,
}

impl ClassifyStage {
    /// `None`: detections pass without subtypes (classification disabled).
    pub fn new(classifier: Option<Classifier>, counters: Arc<InferenceCounters>) -> Self {
        Self {
            classifier,
            counters,
        }
    }
}

impl Stage for ClassifyStage {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "classify"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        for slot in &mut set.slots {
            let Some(frame) = &mut slot.frame else {
                continue;
            };
            if let (Some(classifier), Some(image)) = (&mut self.classifier, &frame.image)
                && !slot.detections.is_empty()
            {
                // Boxes are in native pixels; crops come from the decoded image.
                let (sx, sy) = frame.native_scale(image);
                let found = attributes(classifier, image, &slot.detections, [1.0 / sx, 1.0 / sy])
                    .map_err(|e| PipelineError::stage("classify", e))?;
                if found
                    .iter()
                    .any(|a| a.subtype.is_some() || !a.top.is_empty())
                {
                    self.counters
                        .classifier_calls
                        .fetch_add(1, Ordering::Relaxed);
                }
                for (detection, attributes) in slot.detections.iter_mut().zip(found) {
                    detection.attributes = attributes;
                }
            }
            // The decoded image is not needed past here: free it early.
            frame.image = None;
        }
        Ok(out.send(set)?)
    }
}

/// Loads the classifier when the configuration asks for classification.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    let classifier = if config.classify {
        Some(
            Classifier::shipped(&config.session, 5)
                .map_err(|e| PipelineError::stage("classify", e))?,
        )
    } else {
        None
    };
    Ok(Box::new(ClassifyStage::new(
        classifier,
        context.inference.clone(),
    )))
}
