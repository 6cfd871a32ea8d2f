//! ImageNet labels → the driving taxonomy: the vehicle subtype of a detection.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleSubtype {
    Car,
    Van,
    Pickup,
    Bus,
    Truck,
    /// Ambulance, police van, fire engine.
    EmergencyVehicle,
    /// Bicycles, mopeds, scooters, tricycles.
    TwoWheeler,
    /// A vehicle whose subtype the classifier is not sure enough of.
    Unknown,
}

impl VehicleSubtype {
    pub fn name(self) -> &'static str {
        match self {
            VehicleSubtype::Car => "car",
            VehicleSubtype::Van => "van",
            VehicleSubtype::Pickup => "pickup",
            VehicleSubtype::Bus => "bus",
            VehicleSubtype::Truck => "truck",
            VehicleSubtype::EmergencyVehicle => "emergency_vehicle",
            VehicleSubtype::TwoWheeler => "two_wheeler",
            VehicleSubtype::Unknown => "unknown",
        }
    }
}

/// ImageNet classes (by the first name on their label line) for each subtype.
const SUBTYPE_CLASSES: &[(VehicleSubtype, &[&str])] = &[
    (
        VehicleSubtype::Car,
        &[
            "beach wagon",
            "cab",
            "convertible",
            "jeep",
            "limousine",
            "Model T",
            "racer",
            "sports car",
            "car wheel",
            "grille",
        ],
    ),
    (
        VehicleSubtype::Van,
        &["minivan", "moving van", "recreational vehicle"],
    ),
    (VehicleSubtype::Pickup, &["pickup"]),
    (
        VehicleSubtype::Bus,
        &["school bus", "trolleybus", "minibus", "streetcar"],
    ),
    (
        VehicleSubtype::Truck,
        &["trailer truck", "garbage truck", "tow truck"],
    ),
    (
        VehicleSubtype::EmergencyVehicle,
        &["ambulance", "police van", "fire engine"],
    ),
    (
        VehicleSubtype::TwoWheeler,
        &[
            "moped",
            "motor scooter",
            "mountain bike",
            "bicycle-built-for-two",
            "tricycle",
            "unicycle",
        ],
    ),
];

/// For each ImageNet class id, its subtype (if any), built from the label file.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    subtype_of_class: Vec<Option<VehicleSubtype>>,
}

impl Taxonomy {
    pub fn from_labels(labels: &[String]) -> Self {
        let subtype_of_class = labels
            .iter()
            .map(|label| {
                let first_name = label.split(',').next().unwrap_or("").trim();
                SUBTYPE_CLASSES
                    .iter()
                    .find(|(_, names)| names.contains(&first_name))
                    .map(|(subtype, _)| *subtype)
            })
            .collect();
        Self { subtype_of_class }
    }

    /// The subtype with the most probability mass, and that mass. `None` when
    /// no vehicle class has any.
    pub fn subtype(&self, probabilities: &[f32]) -> Option<(VehicleSubtype, f32)> {
        let mut mass: Vec<(VehicleSubtype, f32)> = Vec::new();
        for (class, &p) in probabilities.iter().enumerate() {
            if let Some(Some(subtype)) = self.subtype_of_class.get(class) {
                match mass.iter_mut().find(|(s, _)| s == subtype) {
                    Some((_, total)) => *total += p,
                    None => mass.push((*subtype, p)),
                }
            }
        }
        mass.into_iter()
            .filter(|(_, p)| *p > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// How many ImageNet classes map onto a subtype (for checks).
    pub fn mapped_classes(&self) -> usize {
        self.subtype_of_class.iter().flatten().count()
    }
}
