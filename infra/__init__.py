"""Infrastructure shared by every application of the suite; it imports none of them."""
