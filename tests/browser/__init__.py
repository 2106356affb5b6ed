"""Tests in headless Chromium (Debian's chromium and chromium-driver)."""
