//! Which ground-truth categories and detector classes are compared with one
//! another: the families the fusion stage also uses, so that a "truck" box on
//! a pickup annotated REGULAR_VEHICLE is a hit, as it is for the planner.

use heptaview_perception::fusion::associate::family;

/// The families evaluated, in report order.
pub const FAMILIES: [&str; 3] = ["person", "two_wheeler", "vehicle"];

/// The family of an Argoverse 2 annotation category; `None` for categories
/// the detector has no class for (bollards, signs, cones, ...).
pub fn family_of_category(category: &str) -> Option<&'static str> {
    match category {
        "PEDESTRIAN" | "OFFICIAL_SIGNALER" => Some("person"),
        "BICYCLE" | "BICYCLIST" | "MOTORCYCLE" | "MOTORCYCLIST" | "WHEELED_RIDER" => {
            Some("two_wheeler")
        }
        "REGULAR_VEHICLE" | "LARGE_VEHICLE" | "BUS" | "BOX_TRUCK" | "TRUCK" | "TRUCK_CAB"
        | "VEHICULAR_TRAILER" | "SCHOOL_BUS" | "ARTICULATED_BUS" | "RAILED_VEHICLE" => {
            Some("vehicle")
        }
        _ => None,
    }
}

/// The family of a detector class, when it is one that is evaluated.
pub fn family_of_class(class: &str) -> Option<&'static str> {
    let family = family(class);
    FAMILIES.into_iter().find(|f| *f == family)
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
