//! Which ground-truth categories and detector classes are compared with one
//! another: the families the fusion stage also uses, so that a "truck" box on
//! a pickup annotated REGULAR_VEHICLE is a hit, as it is for the planner.

use heptaview_models::classes::Family;

/// The family of an Argoverse 2 annotation category; `None` for categories
/// the detector has no class for (bollards, signs, cones, ...).
pub fn family_of_category(category: &str) -> Option<Family> {
    match category {
        "PEDESTRIAN" | "OFFICIAL_SIGNALER" => Some(Family::Person),
        "BICYCLE" | "BICYCLIST" | "MOTORCYCLE" | "MOTORCYCLIST" | "WHEELED_RIDER" => {
            Some(Family::TwoWheeler)
        }
        "REGULAR_VEHICLE" | "LARGE_VEHICLE" | "BUS" | "BOX_TRUCK" | "TRUCK" | "TRUCK_CAB"
        | "VEHICULAR_TRAILER" | "SCHOOL_BUS" | "ARTICULATED_BUS" | "RAILED_VEHICLE" => {
            Some(Family::Vehicle)
        }
        _ => None,
    }
}

/// The family of a detector class, when it is one that is evaluated.
pub fn family_of_class(class: &str) -> Option<Family> {
    Family::of_label(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_and_classes_meet_in_families() {
        assert_eq!(
            family_of_category("REGULAR_VEHICLE"),
            family_of_class("truck")
        );
        assert_eq!(
            family_of_category("BICYCLIST"),
            family_of_class("motorcycle")
        );
        assert_eq!(family_of_category("PEDESTRIAN"), family_of_class("person"));
        assert_eq!(family_of_category("BOLLARD"), None);
        assert_eq!(family_of_class("traffic light"), None);
    }
}
