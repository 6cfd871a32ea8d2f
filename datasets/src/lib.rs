//! Argoverse 2 seven-camera logs (read and write) and the ground-truth
//! scenario generator. Filled in by the datasets issue.
