//! SSH adapter (being written).
