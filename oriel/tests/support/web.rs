//! Fixtures for the browser tests (headless Chromium over CDP).
