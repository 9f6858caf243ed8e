"""`upscale`: super-resolution with a shipped or trained SRResNet/SRGAN. `upscaler` (the
network over a frame), `bands` (large images in overlapping bands), `files` (the image loop),
`evaluate` (PSNR/SSIM against bicubic on a folder)."""
