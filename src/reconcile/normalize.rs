//! Normalisation of names, postal codes and contact data for matching.
