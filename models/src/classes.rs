//! The object classes heptaview reasons about, under the COCO names the
//! detectors use, and the families of classes a detector confuses with one
//! another (a truck box on a pickup is still a vehicle: it fuses, tracks and
//! is evaluated with cars). Labels stay strings at the edges (a model's
//! output, a report); what a class means is decided here, once.

use serde::{Deserialize, Serialize};

/// A COCO class that matters for driving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectClass {
    Person,
    Bicycle,
    Car,
    Motorcycle,
    Bus,
    Train,
    Truck,
    TrafficLight,
    StopSign,
}

/// Classes one object may be detected as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Person,
    TwoWheeler,
    Vehicle,
}

/// Typical size of an object of a class, metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassSize {
    pub length_m: f64,
    pub width_m: f64,
    pub height_m: f64,
}

impl ObjectClass {
    /// The driving classes, in COCO order: the detector's default filter.
    pub const ALL: [ObjectClass; 9] = [
        ObjectClass::Person,
        ObjectClass::Bicycle,
        ObjectClass::Car,
        ObjectClass::Motorcycle,
        ObjectClass::Bus,
        ObjectClass::Train,
        ObjectClass::Truck,
        ObjectClass::TrafficLight,
        ObjectClass::StopSign,
    ];

    /// The COCO label.
    pub fn label(self) -> &'static str {
        match self {
            ObjectClass::Person => "person",
            ObjectClass::Bicycle => "bicycle",
            ObjectClass::Car => "car",
            ObjectClass::Motorcycle => "motorcycle",
            ObjectClass::Bus => "bus",
            ObjectClass::Train => "train",
            ObjectClass::Truck => "truck",
            ObjectClass::TrafficLight => "traffic light",
            ObjectClass::StopSign => "stop sign",
        }
    }

    /// The class of a COCO label; `None` for classes driving ignores.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.label() == label)
    }

    /// The family it is fused, tracked and evaluated with; `None` for
    /// lights and signs, which are matched only with themselves.
    pub fn family(self) -> Option<Family> {
        match self {
            ObjectClass::Person => Some(Family::Person),
            ObjectClass::Bicycle | ObjectClass::Motorcycle => Some(Family::TwoWheeler),
            ObjectClass::Car | ObjectClass::Bus | ObjectClass::Train | ObjectClass::Truck => {
                Some(Family::Vehicle)
            }
            ObjectClass::TrafficLight | ObjectClass::StopSign => None,
        }
    }

    /// Lights and signs: rules of their own, never obstacles; they hang above
    /// the road, so a box's bottom is not where they stand.
    pub fn is_traffic_control(self) -> bool {
        matches!(self, ObjectClass::TrafficLight | ObjectClass::StopSign)
    }

    /// People and riders: yielded to when they walk or ride into the path.
    pub fn is_vulnerable(self) -> bool {
        matches!(
            self,
            ObjectClass::Person | ObjectClass::Bicycle | ObjectClass::Motorcycle
        )
    }

    /// Vehicles whose crops the classifier gives a subtype.
    pub fn has_subtype(self) -> bool {
        matches!(self.family(), Some(Family::Vehicle | Family::TwoWheeler)) && self != Self::Train
    }

    /// Typical size: the height gives the range when the ground contact is
    /// not seen, the length how far a box cut by the image's side may be off
    /// the object's centre; the viewer draws tracks at it.
    pub fn size(self) -> ClassSize {
        let (length_m, width_m, height_m) = match self {
            ObjectClass::Person => (0.6, 0.6, 1.7),
            ObjectClass::Bicycle => (1.8, 0.6, 1.1),
            ObjectClass::Motorcycle => (1.8, 0.6, 1.3),
            ObjectClass::Car => (4.6, 1.85, 1.5),
            ObjectClass::Bus => (12.0, 2.55, 3.2),
            ObjectClass::Truck => (7.0, 2.4, 3.0),
            ObjectClass::Train => (12.0, 2.55, 3.8),
            ObjectClass::TrafficLight => (0.6, 0.4, 0.9),
            ObjectClass::StopSign => (0.6, 0.1, 0.75),
        };
        ClassSize {
            length_m,
            width_m,
            height_m,
        }
    }
}

impl Family {
    /// The evaluated families, in report order.
    pub const ALL: [Family; 3] = [Family::Person, Family::TwoWheeler, Family::Vehicle];

    pub fn name(self) -> &'static str {
        match self {
            Family::Person => "person",
            Family::TwoWheeler => "two_wheeler",
            Family::Vehicle => "vehicle",
        }
    }

    /// The family of a detector label; `None` for labels of no family.
    pub fn of_label(label: &str) -> Option<Self> {
        ObjectClass::from_label(label)?.family()
    }
}

/// Whether two detector labels may be one object: the same label, or two
/// classes of one family.
pub fn same_object_kind(a: &str, b: &str) -> bool {
    a == b || matches!((Family::of_label(a), Family::of_label(b)), (Some(x), Some(y)) if x == y)
}

/// The typical size of a detector label's class, if it is a driving class.
pub fn typical_size(label: &str) -> Option<ClassSize> {
    ObjectClass::from_label(label).map(ObjectClass::size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_families_group_what_detectors_confuse() {
        for class in ObjectClass::ALL {
            assert_eq!(ObjectClass::from_label(class.label()), Some(class));
        }
        assert_eq!(ObjectClass::from_label("dog"), None);
        assert!(same_object_kind("truck", "car"));
        assert!(same_object_kind("bicycle", "motorcycle"));
        assert!(!same_object_kind("car", "person"));
        assert!(same_object_kind("dog", "dog"));
        assert!(!same_object_kind("traffic light", "stop sign"));
        assert_eq!(Family::of_label("bus"), Some(Family::Vehicle));
        assert_eq!(Family::of_label("stop sign"), None);
        assert!(ObjectClass::Car.has_subtype() && !ObjectClass::Person.has_subtype());
    }
}
