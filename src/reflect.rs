//! Converting reflected values to and from Lua (being written).
