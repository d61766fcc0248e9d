"""Where bytes come from: the live node, a directory root, or a bundle."""
