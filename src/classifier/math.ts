/**
 * Round half to even, as Python's round() (torchvision's CenterCrop offsets) and ONNX QuantizeLinear do.
 * Math.round rounds .5 up; ties that land on an odd result move back to the even neighbour.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
