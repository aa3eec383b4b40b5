//! Tax identifiers: the Chinese Unified Social Credit Code, EU VAT numbers and US EINs.
