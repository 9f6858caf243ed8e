"""Faces: the shipped CenterFace detector (`centerface`) and what `add --faces` asks of it
(`detect`: faces at every scale, scored on the image and its mirror; a face's mask)."""
