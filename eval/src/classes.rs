//! Which ground-truth categories and detector classes are compared with one
//! another: the families the fusion stage also uses, so that a "truck" box on
//! a pickup annotated REGULAR_VEHICLE is a hit, as it is for the planner.

use heptaview_models::classes::Family;

/// The family of an annotation category, Argoverse 2's (`REGULAR_VEHICLE`)
/// or nuScenes' (`vehicle.car`); `None` for categories the detector has no
/// class for (bollards, signs, cones, animals, strollers, wheelchairs, ...).
/// The two vocabularies cannot collide (upper-case words, dotted lower-case
/// paths), so one match serves every log format.
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
        // nuScenes: a stroller, wheelchair or scooter rider is not a person
        // box the detector is expected to find on its own, as in AV2.
        "human.pedestrian.adult"
        | "human.pedestrian.child"
        | "human.pedestrian.construction_worker"
        | "human.pedestrian.police_officer" => Some(Family::Person),
        // nuScenes boxes a bicycle or motorcycle with its rider, if any.
        "vehicle.bicycle" | "vehicle.motorcycle" => Some(Family::TwoWheeler),
        "vehicle.car"
        | "vehicle.bus.bendy"
        | "vehicle.bus.rigid"
        | "vehicle.truck"
        | "vehicle.trailer"
        | "vehicle.construction"
        | "vehicle.emergency.ambulance"
        | "vehicle.emergency.police" => Some(Family::Vehicle),
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

    #[test]
    fn nuscenes_categories_have_the_families_of_their_av2_counterparts() {
        let same = [
            ("human.pedestrian.adult", "PEDESTRIAN"),
            ("human.pedestrian.child", "PEDESTRIAN"),
            ("human.pedestrian.construction_worker", "PEDESTRIAN"),
            ("human.pedestrian.police_officer", "OFFICIAL_SIGNALER"),
            ("vehicle.bicycle", "BICYCLIST"),
            ("vehicle.motorcycle", "MOTORCYCLE"),
            ("vehicle.car", "REGULAR_VEHICLE"),
            ("vehicle.bus.bendy", "ARTICULATED_BUS"),
            ("vehicle.bus.rigid", "BUS"),
            ("vehicle.truck", "BOX_TRUCK"),
            ("vehicle.trailer", "VEHICULAR_TRAILER"),
            ("vehicle.construction", "LARGE_VEHICLE"),
            ("vehicle.emergency.ambulance", "REGULAR_VEHICLE"),
            ("vehicle.emergency.police", "REGULAR_VEHICLE"),
            ("human.pedestrian.stroller", "STROLLER"),
            ("human.pedestrian.wheelchair", "WHEELCHAIR"),
            ("human.pedestrian.personal_mobility", "WHEELED_DEVICE"),
            ("animal", "DOG"),
            ("movable_object.barrier", "CONSTRUCTION_BARREL"),
            ("movable_object.trafficcone", "CONSTRUCTION_CONE"),
        ];
        for (nuscenes, av2) in same {
            assert_eq!(
                family_of_category(nuscenes),
                family_of_category(av2),
                "{nuscenes} vs {av2}"
            );
        }
        assert_eq!(family_of_category("vehicle.car"), family_of_class("car"));
        assert_eq!(
            family_of_category("human.pedestrian.adult"),
            family_of_class("person")
        );
        assert_eq!(
            family_of_category("vehicle.bicycle"),
            family_of_class("bicycle")
        );
        for none in [
            "movable_object.pushable_pullable",
            "movable_object.debris",
            "static_object.bicycle_rack",
            // Not a prefix match: an unknown dotted name has no family.
            "vehicle",
            "vehicle.car.extra",
        ] {
            assert_eq!(family_of_category(none), None, "{none}");
        }
    }
}
