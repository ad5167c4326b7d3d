//! RDP adapter (being written).
