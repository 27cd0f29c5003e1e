"""The browser app's rendering: safe HTML from engine objects, and the page's CSS and scripts."""
