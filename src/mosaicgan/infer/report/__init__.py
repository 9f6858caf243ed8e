"""What a job found, for people: the detection report (`record`: schema-versioned JSON, every
region, track and option, no pixels) and the contact sheet (`sheet`: a thumbnail of every face
and track, taken from the inputs, so as sensitive as they are)."""
