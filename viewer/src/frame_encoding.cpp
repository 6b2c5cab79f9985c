#include "volnode/viewer/frame_encoding.hpp"

#include <vtkImageData.h>
#include <vtkJPEGReader.h>
#include <vtkJPEGWriter.h>
#include <vtkPNGReader.h>
#include <vtkPointData.h>
#include <vtkNew.h>
#include <vtkSmartPointer.h>
#include <vtkPNGWriter.h>
#include <vtkUnsignedCharArray.h>

#include <cstring>

#include "volnode/core/error.hpp"

namespace volnode::viewer {

EncodedImage encodeImage(const std::vector<uint8_t>& pixels, int width, int height, int channels, ImageFormat format,
                         int jpeg_quality) {
  if (width < 1 || height < 1 || (channels != 1 && channels != 3) ||
      pixels.size() != size_t(width) * height * channels)
    throw Error(Errc::InvalidArgument, "encodeImage: the image size does not match its pixels");
  vtkNew<vtkImageData> image;
  image->SetDimensions(width, height, 1);
  image->AllocateScalars(VTK_UNSIGNED_CHAR, channels);
  auto* destination = static_cast<uint8_t*>(image->GetScalarPointer());
  const size_t row = size_t(width) * channels;
  for (int y = 0; y < height; ++y)  // VTK images are bottom-up
    std::memcpy(destination + size_t(height - 1 - y) * row, pixels.data() + size_t(y) * row, row);
  vtkUnsignedCharArray* result = nullptr;
  EncodedImage encoded;
  if (format == ImageFormat::Png) {
    vtkNew<vtkPNGWriter> writer;
    writer->SetCompressionLevel(1);  // speed over the last 10 % of size: frames are answered while the user waits
    writer->WriteToMemoryOn();
    writer->SetInputData(image);
    writer->Write();
    result = writer->GetResult();
    encoded.content_type = "image/png";
    if (result) encoded.bytes.assign(reinterpret_cast<const char*>(result->GetPointer(0)), result->GetNumberOfTuples());
  } else {
    vtkNew<vtkJPEGWriter> writer;
    writer->SetQuality(jpeg_quality);
    writer->ProgressiveOff();
    writer->WriteToMemoryOn();
    writer->SetInputData(image);
    writer->Write();
    result = writer->GetResult();
    encoded.content_type = "image/jpeg";
    if (result) encoded.bytes.assign(reinterpret_cast<const char*>(result->GetPointer(0)), result->GetNumberOfTuples());
  }
  if (encoded.bytes.empty()) throw Error(Errc::Render, "encoding the frame as " + encoded.content_type + " failed");
  return encoded;
}

EncodedImage encodeFrame(const RenderedFrame& frame, ImageFormat format, int jpeg_quality) {
  return encodeImage(frame.pixels, frame.width, frame.height, frame.channels, format, jpeg_quality);
}

DecodedImage decodeImage(const std::string& bytes) {
  const bool png = bytes.size() > 8 && bytes.compare(1, 3, "PNG") == 0;
  const bool jpeg = bytes.size() > 3 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8;
  if (!png && !jpeg) throw Error(Errc::InvalidArgument, "decodeImage: neither PNG nor JPEG");
  vtkSmartPointer<vtkImageReader2> reader;
  if (png) reader = vtkSmartPointer<vtkPNGReader>::New();
  else reader = vtkSmartPointer<vtkJPEGReader>::New();
  reader->SetMemoryBuffer(bytes.data());
  reader->SetMemoryBufferLength(bytes.size());
  reader->Update();
  vtkImageData* image = reader->GetOutput();
  int dims[3];
  image->GetDimensions(dims);
  DecodedImage decoded;
  decoded.width = dims[0];
  decoded.height = dims[1];
  decoded.channels = image->GetNumberOfScalarComponents();
  if (decoded.width < 1 || decoded.height < 1 || image->GetScalarType() != VTK_UNSIGNED_CHAR)
    throw Error(Errc::InvalidArgument, "decodeImage: not an 8-bit image");
  const auto* source = static_cast<const uint8_t*>(image->GetScalarPointer());
  const size_t row = size_t(decoded.width) * decoded.channels;
  decoded.pixels.resize(row * decoded.height);
  for (int y = 0; y < decoded.height; ++y)  // VTK images are bottom-up
    std::memcpy(decoded.pixels.data() + size_t(y) * row, source + size_t(decoded.height - 1 - y) * row, row);
  return decoded;
}

}  // namespace volnode::viewer
